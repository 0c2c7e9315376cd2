"""One line of text for an exception that a library raised about a user's file.

Why: the package promises one line that names what was wrong for every bad file, flag or
message, but the libraries it reads files with write paragraphs. torch's weights-only loader opens
with four lines on its own change of default before it says what it found ("Unsupported operand
103"), and PyYAML puts the place of the error on a line of its own, under a copy of the text. The
callers keep their own first words (which file, which kind); this gives them the cause.
"""

from __future__ import annotations

__all__ = ["exc_line", "not_text"]

#: torch.load(weights_only=True) puts the finding after this marker, below its boilerplate
_TORCH_MARKER = "WeightsUnpickler error:"
_MAX_CHARS = 500


def exc_line(exc: BaseException) -> str:
    """``Type: the telling line`` of ``exc``, on one line and at most 500 characters."""
    text = _yaml_text(exc) or _telling_line(str(exc))
    line = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return line if len(line) <= _MAX_CHARS else line[: _MAX_CHARS - 3] + "..."


def not_text(exc: UnicodeDecodeError) -> str:
    """Why a file read as text is not: ``not a text (UTF-8) file: byte N is 0xXX`` (the first byte that
    does not decode), for the caller to put after the file's name."""
    return f"not a text (UTF-8) file: byte {exc.start} is 0x{exc.object[exc.start]:02x}"


def _telling_line(message: str) -> str:
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    if not lines:
        return ""
    for i, ln in enumerate(lines):
        if ln.endswith(_TORCH_MARKER) and i + 1 < len(lines):
            return lines[i + 1]
        if _TORCH_MARKER in ln:
            rest = ln.split(_TORCH_MARKER, 1)[1].strip()
            if rest:
                return rest
    if lines[0].endswith(":") and len(lines) > 1:  # "Error(s) in loading state_dict for X:" and its first finding
        return f"{lines[0]} {lines[1]}"
    return lines[0]


def _yaml_text(exc: BaseException) -> str:
    """PyYAML's problem and where it is (1-based line and column), or '' for other exceptions."""
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if not problem or mark is None or not hasattr(mark, "line"):
        return ""
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
