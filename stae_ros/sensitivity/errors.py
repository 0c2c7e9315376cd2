"""The one error of the sensitivity package: a map that cannot be made, read or used (one-line reason)."""


class SensitivityError(ValueError):
    """A malformed, out-of-bounds or unusable sensitivity map; the message says what was wrong."""
