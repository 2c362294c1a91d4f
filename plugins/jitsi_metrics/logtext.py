"""Text from a bridge made fit for one log line.

A bridge is untrusted: its HTTP reason phrase, Content-Type, body and keys can hold
terminal escapes, CR/LF that would forge a second log line, bidi overrides that would
reorder how a line displays, lone surrogates that cannot be written as UTF-8, or 60 kB
of anything. Every front end's log function and
every message that quotes a bridge goes through ``loggable``.
"""
from __future__ import annotations

from typing import Optional

# At most this many characters of bridge-supplied text in one log line.
MAX_BRIDGE_TEXT = 300
# Bound on a whole log line (our words plus a few quoted bridge pieces).
MAX_LINE = 600

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(char: str) -> str:
    if char.isprintable():
        return char
    code = ord(char)
    if char in _NAMED:
        return _NAMED[char]
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def loggable(text: str, limit: Optional[int] = MAX_BRIDGE_TEXT) -> str:
    """``text`` with every character ``str.isprintable`` refuses escaped (controls, line
    separators, lone surrogates, and format characters such as the bidi overrides
    U+202A-U+202E and U+2066-U+2069, which would reorder how the rest of a line displays),
    cut to ``limit`` characters (``None``: no cut) with "…" marking the cut.

    >>> loggable("Bad\\x1b[31m\\r\\nGateway\\u202e")
    'Bad\\\\x1b[31m\\\\r\\\\nGateway\\\\u202e'
    """
    escaped = text if text.isprintable() else "".join(_escaped(char) for char in text)
    if limit is not None and len(escaped) > limit:
        return escaped[:limit] + "…"
    return escaped


__all__ = ["MAX_BRIDGE_TEXT", "MAX_LINE", "loggable"]
