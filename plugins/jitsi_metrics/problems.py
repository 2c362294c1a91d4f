"""Problems found in a payload: one record per dropped field, worded for an operator."""
from __future__ import annotations

from typing import Any, NamedTuple


class Problem(NamedTuple):
    """A field that was dropped, e.g. conference_sizes sent as the string "[]"."""

    key: str
    expected: str
    got: str

    def message(self, bridge: str) -> str:
        return (
            f'Bridge "{bridge}": key "{self.key}" expected {self.expected}, '
            f"got {self.got}; field skipped"
        )


def describe_json_value(value: Any) -> str:
    """Say what a JSON value is, quoting short text from the bridge with repr."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {'true' if value else 'false'}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:40] + "…"
        return f"the string {shown!r}"
    if isinstance(value, list):
        return f"an array of {len(value)} items"
    if isinstance(value, dict):
        return f"an object with {len(value)} keys"
    return type(value).__name__


EMPTY_PAYLOAD_HINT = (
    "the bridge answered {} (statistics disabled); on JVB 2.x before stable-5765 set "
    "videobridge.stats.enabled=true (or org.jitsi.videobridge.ENABLE_STATISTICS=true) and restart it"
)
