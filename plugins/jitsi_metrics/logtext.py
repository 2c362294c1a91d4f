"""Text from a bridge made fit for one log line.

A bridge is untrusted: its HTTP reason phrase, Content-Type, body and keys can hold
terminal escapes, CR/LF that would forge a second log line, lone surrogates that
cannot be written as UTF-8, or 60 kB of anything. Every front end's log function and
every message that quotes a bridge goes through ``loggable``.
"""
from __future__ import annotations

from typing import Dict, Optional

# At most this many characters of bridge-supplied text in one log line.
MAX_BRIDGE_TEXT = 300
# Bound on a whole log line (our words plus a few quoted bridge pieces).
MAX_LINE = 600

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escapes() -> Dict[int, str]:
    table: Dict[int, str] = {}
    codes = list(range(0x20)) + list(range(0x7F, 0xA0)) + [0x2028, 0x2029] + list(range(0xD800, 0xE000))
    for code in codes:
        char = chr(code)
        table[code] = _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    return table


_ESCAPES = _escapes()


def loggable(text: str, limit: Optional[int] = MAX_BRIDGE_TEXT) -> str:
    """``text`` with control characters, line separators and lone surrogates escaped,
    cut to ``limit`` characters (``None``: no cut) with "…" marking the cut.

    >>> loggable("Bad\\x1b[31m\\r\\nGateway")
    'Bad\\\\x1b[31m\\\\r\\\\nGateway'
    """
    escaped = text.translate(_ESCAPES)
    if limit is not None and len(escaped) > limit:
        return escaped[:limit] + "…"
    return escaped


__all__ = ["MAX_BRIDGE_TEXT", "MAX_LINE", "loggable"]
