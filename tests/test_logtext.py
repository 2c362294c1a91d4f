"""Bridge text made fit for one log line: every character that is not printable is
escaped, so bridge text can neither forge a line nor reorder how a line displays."""
from __future__ import annotations

import pytest

from jitsi_metrics.logtext import loggable
from jitsi_metrics.mapping import map_payload

BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"]


@pytest.mark.parametrize("char", BIDI + ["\u200b", "\u200e", "\ufeff", "\u00ad", "\U000e0001"])
def test_format_controls_are_escaped(char):
    # U+202E in a reason phrase shows the rest of the log line right to left.
    escaped = loggable(f"Bad {char}yawetaG")
    assert escaped.isprintable() and escaped.isascii()
    code = ord(char)
    spelled = f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
    assert escaped == f"Bad {spelled}yawetaG"


@pytest.mark.parametrize("text, expected", [
    ("a\r\nb\tc", "a\\r\\nb\\tc"),
    ("\x1b[31m", "\\x1b[31m"),
    ("\x85\u2028\u2029", "\\x85\\u2028\\u2029"),
    ("lone \udc80", "lone \\udc80"),
    ("no\u00a0break", "no\\xa0break"),
])
def test_controls_separators_and_surrogates_are_escaped(text, expected):
    assert loggable(text) == expected


def test_printable_text_is_kept_as_it_is_and_bounded():
    assert loggable("Jitsi Videobridge 2.3 — ünïcødé, \"quoted\" \\ ok") == (
        "Jitsi Videobridge 2.3 — ünïcødé, \"quoted\" \\ ok")
    assert loggable("x" * 500, 80) == "x" * 80 + "…"
    assert loggable("x" * 500, None) == "x" * 500


def test_field_warnings_escape_bridge_name_key_and_value_the_same_way():
    warnings = map_payload({"conferences\u202e": 1, "threads": "5\u2066"}).warnings("meet\u202e1")
    assert warnings and all(w.isprintable() for w in warnings)
    assert any('Bridge "meet\\u202e1"' in w and "\\u2066" in w for w in warnings)
