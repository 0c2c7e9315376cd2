"""Named exceptions of stae_ros.local: each message names the file and the field that was wrong."""

from __future__ import annotations

__all__ = ["LocalModelError", "LocalInputError"]


class LocalModelError(Exception):
    """A local-classifier file is missing, truncated, of another format, or has a bad field."""


class LocalInputError(ValueError):
    """A clip given to the local classifier has the wrong shape or dtype."""
