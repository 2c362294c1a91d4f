"""A strict parser of InfluxDB line protocol, for round-trip tests of our renderer.

It rejects what the spec rejects (unescaped specials, empty tag values, bad field values)
instead of guessing, so a renderer bug shows up as an error here.
"""
from __future__ import annotations

from typing import Dict, List, NamedTuple, Optional, Tuple, Union

Value = Union[int, float, str, bool]


class Point(NamedTuple):
    measurement: str
    tags: Dict[str, str]
    fields: Dict[str, Value]
    timestamp: Optional[int]


def _split(text: str, seps: str, stop: str = "") -> Tuple[List[str], str]:
    """Split on unescaped characters of ``seps`` until an unescaped ``stop``."""
    parts, current, i = [], "", 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in ", =\\\"":
            current += text[i + 1] if text[i + 1] in ", =" else c + text[i + 1]
            i += 2
            continue
        if c in stop:
            parts.append(current)
            return parts, text[i + 1:]
        if c in seps:
            parts.append(current)
            current = ""
        else:
            current += c
        i += 1
    parts.append(current)
    return parts, ""


def _field_value(text: str) -> Value:
    if text.endswith("i"):
        return int(text[:-1])
    if text in ("t", "T", "true", "True", "TRUE"):
        return True
    if text in ("f", "F", "false", "False", "FALSE"):
        return False
    if text.startswith('"'):
        raise ValueError("string fields are not produced by our renderer")
    value = float(text)
    return value


def parse_line(line: str) -> Point:
    if line != line.strip() or not line:
        raise ValueError(f"stray whitespace or empty line: {line!r}")
    head, rest = _split(line, ",", stop=" ")
    if not rest:
        raise ValueError(f"no fields: {line!r}")
    measurement, *tag_parts = head
    tags = {}
    for part in tag_parts:
        key, eq, value = part.partition("=")
        if not eq or not key or not value:
            raise ValueError(f"bad tag {part!r} in {line!r}")
        tags[key] = value
    field_text, _, timestamp = rest.partition(" ")
    fields: Dict[str, Value] = {}
    for part in _split(field_text, ",")[0]:
        key, eq, value = part.partition("=")
        if not eq or not key or not value:
            raise ValueError(f"bad field {part!r} in {line!r}")
        fields[key] = _field_value(value)
    return Point(measurement, tags, fields, int(timestamp) if timestamp else None)


def parse(text: str) -> List[Point]:
    if text and not text.endswith("\n"):
        raise ValueError("output must end with a newline")
    # Only \n ends a line; str.splitlines would also split at \r, \x85 or \u2028.
    return [parse_line(line) for line in text.split("\n")[:-1]]
