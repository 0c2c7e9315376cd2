"""Named errors of the link emulation: a bad trace file or a shaper used wrongly."""

from __future__ import annotations

__all__ = ["LinkError", "TraceError", "ShaperError"]


class LinkError(Exception):
    """Base class of every error raised by stae_ros.link."""


class TraceError(LinkError, ValueError):
    """A delivery trace file is missing, empty, unsorted or holds something other than integer ms."""


class ShaperError(LinkError, ValueError):
    """A shaper was given impossible input (negative sizes, time running backwards, bad limits)."""
