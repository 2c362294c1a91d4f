"""The cheap type check run on every poll, derived from the catalogue.

The JSON schema (schema/) stays the authority: the mapper asks it for the verdict
whenever this check finds anything, and tests prove the two agree on every fixture.
This check only exists because a full jsonschema validation costs about ten times a
whole poll.
"""
from __future__ import annotations

from typing import Any, Dict

from .catalogue import ARRAY, BOOL, IGNORE, INFO, NUMBER

# Jackson (JVB from 2026-06) writes NaN and infinities as these strings.
NON_FINITE_STRINGS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}

EXPECTED: Dict[str, str] = {
    NUMBER: "a number",
    BOOL: "a boolean",
    INFO: "a string",
    ARRAY: "an array of numbers",
    IGNORE: "anything",
}


def is_number(value: Any) -> bool:
    kind = type(value)
    return kind is int or kind is float or (kind is str and value in NON_FINITE_STRINGS)


def _is_number_array(value: Any) -> bool:
    return type(value) is list and all(type(v) is int or type(v) is float for v in value)


def field_ok(kind: str, value: Any) -> bool:
    """Whether ``value`` has the JSON type the catalogue expects for ``kind``."""
    if kind == NUMBER:
        return is_number(value)
    if kind == BOOL:
        return type(value) is bool
    if kind == INFO:
        return type(value) is str
    if kind == ARRAY:
        return _is_number_array(value)
    return True


def as_number(value: Any) -> Any:
    """The number a checked numeric field stands for."""
    if type(value) is str:
        return NON_FINITE_STRINGS[value]
    return value
