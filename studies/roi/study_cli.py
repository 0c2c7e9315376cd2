"""The command line both payload studies share (`roi.evaluate`, `latent.evaluate`).

Each study reads a YAML config, merges its operating points into a profile, writes a result JSON
inside its out_dir and draws one curve plot; the four options and the start-up (INFO logging,
one torch thread so camera timings are single-threaded) are the same, so they live here once.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch
import yaml

__all__ = ["study_parser", "start_study"]


def study_parser(prog: str, doc: str | None, config: str, json_name: str, plot: str) -> argparse.ArgumentParser:
    """A parser with the shared options; the study adds its own."""
    ap = argparse.ArgumentParser(prog=prog, description=(doc or "").split("\n\n")[0])
    ap.add_argument("--config", default=config, help="study config (YAML)")
    ap.add_argument("--profile", default="profiles/payloads.json", help="profile JSON to merge the points into ('' = none)")
    ap.add_argument("--json", default=json_name, help="result file name inside the study's out_dir")
    ap.add_argument("--plot", default=plot, help="where to write the curve plot")
    return ap


def start_study(args: argparse.Namespace) -> dict:
    """Set up logging, threads and the allocator; return the parsed config."""
    from stae_ros.runtime import keep_freed_memory

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    keep_freed_memory(heap_only=True)  # training steps reuse their large blocks (stae_ros.runtime)
    torch.set_num_threads(1)
    return yaml.safe_load(Path(args.config).read_text())
