"""argparse types that refuse a bad value with the flag's allowed range, before any work starts.

argparse turns the ``ArgumentTypeError`` these raise into one line, ``stae <cmd>: error: argument
--k: must be an integer in [1, 64], got 0``, and exit status 2: the same shape every bad flag gets.
"""

from __future__ import annotations

import argparse
import math
import re
from typing import Callable

__all__ = ["int_in", "float_in"]


def _range_text(lo: float | None, hi: float | None, lo_open: bool = False) -> str:
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{lo:g}, {hi:g}]"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo:g}"
    return f"<= {hi:g}"


def int_in(lo: int | None = None, hi: int | None = None) -> Callable[[str], int]:
    """An int within [lo, hi] (either bound may be None)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer {_range_text(lo, hi)}, got {text!r}") from None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"must be an integer {_range_text(lo, hi)}, got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def float_in(lo: float | None = None, hi: float | None = None, lo_open: bool = False) -> Callable[[str], float]:
    """A finite float within [lo, hi] ((lo, hi] with ``lo_open``); NaN and infinities are refused."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number {_range_text(lo, hi, lo_open)}, got {text!r}") from None
        bad = not math.isfinite(value) or (lo is not None and (value <= lo if lo_open else value < lo)) \
            or (hi is not None and value > hi)
        if bad:
            raise argparse.ArgumentTypeError(f"must be a finite number {_range_text(lo, hi, lo_open)}, got {text}")
        return value

    parse.__name__ = "number"
    return parse


def sizes_in(lo: int, hi: int) -> Callable[[str], list[int]]:
    """Comma-separated whole byte counts within [lo, hi], each written as an integer or like 5e3."""

    def parse(text: str) -> list[int]:
        values = []
        for item in (t.strip() for t in text.split(",")):
            try:
                value = float(item)
            except ValueError:
                raise argparse.ArgumentTypeError(f"must be comma-separated byte counts, got {item!r}") from None
            if not math.isfinite(value) or value != int(value) or not lo <= value <= hi:
                raise argparse.ArgumentTypeError(f"each size must be a whole number of bytes in [{lo}, {hi:g}], got {item}")
            values.append(int(value))
        return values

    parse.__name__ = "sizes"
    return parse


def kp_point(text: str) -> str:
    """A STAE operating point "K:p": K a whole number >= 1, p in (0, 1]; returned as given."""
    k, sep, p = text.partition(":")
    try:
        ok = bool(sep) and int(k) >= 1 and math.isfinite(float(p)) and 0.0 < float(p) <= 1.0
    except ValueError:
        ok = False
    if not ok:
        raise argparse.ArgumentTypeError(f"must be K:p with K >= 1 and p in (0, 1] (e.g. 16:0.1), got {text!r}")
    return text


def device_name(text: str) -> str:
    """A torch device this package runs on: auto, cpu, cuda or cuda:N."""
    if text in ("auto", "cpu", "cuda") or re.fullmatch(r"cuda:\d+", text):
        return text
    raise argparse.ArgumentTypeError(f"must be auto, cpu, cuda or cuda:N, got {text!r}")
