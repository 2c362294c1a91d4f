"""The check step: which fields of a payload are exported, and why the others are skipped.

``check_payload`` runs on every poll, before mapping. It is the catalogue's type table
checked with ``type(value) is ...`` plus the limits no JSON type says (integers within
float64, strings of Unicode characters and bounded length, unknown keys with a usable
name). When it finds a known key of the wrong type, the JSON schema (schema/) runs and
has the last word; jsonschema is imported only then, because a full validation costs
about ten times a whole poll. Tests prove the two agree on every fixture and every
wrong type.

``payload_errors`` is what ``jitsi-metrics validate`` prints: the schema's findings plus
these limits, each with a JSON pointer.
"""
from __future__ import annotations

import re
from typing import Any, Dict, FrozenSet, List, NamedTuple, Optional, Tuple

from .catalogue import ARRAY, BOOL, BY_KEY, COLIBRI_METRICS, IGNORE, NUMBER, STRING, Metric
from .logtext import loggable

# Jackson (JVB from 2026-06) writes NaN and infinities as these strings.
NON_FINITE_STRINGS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}

# Longest bridge string exported as a label value (versions are about 20 characters).
MAX_TEXT = 256
# Longest unknown key exported as a metric name (known keys are at most 42 characters).
MAX_KEY = 200
# Integers beyond this cannot be a float64: Prometheus parsers reject them, Influx cannot
# hold them. Python's JSON decoder keeps them exact, so they are checked here.
FLOAT64_MAX = 1.7976931348623157e308
# Characters of bridge text quoted in a log line.
MAX_SHOWN = 80

EXPECTED: Dict[str, str] = {
    NUMBER: "a number",
    BOOL: "a boolean",
    STRING: "a string",
    ARRAY: "an array of numbers",
    IGNORE: "anything",
}

_SURROGATE = re.compile("[\ud800-\udfff]")


def _digits(value: int) -> int:
    if value.bit_length() < 10000:
        return len(str(abs(value)))
    return int(value.bit_length() * 0.30103) + 1


def describe_json_value(value: Any) -> str:
    """Say what a JSON value is, quoting short text from the bridge with repr."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {'true' if value else 'false'}"
    if isinstance(value, int) and abs(value) > FLOAT64_MAX:
        return f"an integer of {_digits(value)} digits"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        cut = value if len(value) <= 40 else value[:40] + "…"
        return f"the string {cut!r}"
    if isinstance(value, list):
        return f"an array of {len(value)} items"
    if isinstance(value, dict):
        return f"an object with {len(value)} keys"
    return type(value).__name__


class FieldWarning(str):
    """The log line of one skipped field. ``ident`` names the problem without the value
    the bridge sent, so a bridge sending a new wrong value at each poll is one warning."""

    ident: Tuple[str, str]

    def __new__(cls, text: str, key: str, expected: str) -> "FieldWarning":
        warning = super().__new__(cls, text)
        warning.ident = (key, expected)
        return warning


class Problem(NamedTuple):
    """A field that was skipped, e.g. conference_sizes sent as the string "[]"."""

    key: str
    expected: str
    got: str

    def message(self, bridge: str) -> FieldWarning:
        where = f'Bridge "{loggable(bridge, MAX_SHOWN)}": key "{loggable(self.key, MAX_SHOWN)}"'
        return FieldWarning(f"{where} expected {self.expected}, got {self.got}; field skipped", self.key, self.expected)


EMPTY_PAYLOAD_HINT = (
    "the bridge answered {} (statistics disabled); on JVB 2.x before stable-5765 set "
    "videobridge.stats.enabled=true (or org.jitsi.videobridge.ENABLE_STATISTICS=true) and restart it"
)


def is_number(value: Any) -> bool:
    """A JSON number a float64 can hold, or one of Jackson's non-finite strings."""
    kind = type(value)
    if kind is float:
        return True
    if kind is int:
        return bool(-FLOAT64_MAX <= value <= FLOAT64_MAX)
    return kind is str and value in NON_FINITE_STRINGS


def as_number(value: Any) -> Any:
    """The number a checked numeric field stands for."""
    if type(value) is str:
        return NON_FINITE_STRINGS[value]
    return value


def _string_drift(value: str) -> Optional[Tuple[str, str]]:
    if len(value) > MAX_TEXT:
        return f"a string of at most {MAX_TEXT} characters", f"a string of {len(value)} characters"
    if not value.isascii() and _SURROGATE.search(value):
        return "a string of Unicode characters", "a string holding a lone UTF-16 surrogate"
    return None


def drift(kind: str, value: Any) -> Optional[Tuple[str, str]]:
    """None when ``value`` is what the catalogue expects for ``kind``; else (expected, got)."""
    if kind == NUMBER:
        if is_number(value):
            return None
        if type(value) is int:
            return "a number within float64 range", describe_json_value(value)
    elif kind == BOOL:
        if type(value) is bool:
            return None
    elif kind == STRING:
        if type(value) is str:
            return _string_drift(value)
    elif kind == ARRAY:
        if type(value) is list and all(type(v) is float or (type(v) is int and is_number(v)) for v in value):
            return None
        if type(value) is list and all(type(v) in (int, float) for v in value):
            return "an array of numbers within float64 range", "an array holding an integer beyond it"
    else:
        return None
    return EXPECTED[kind], describe_json_value(value)


def _unknown_drift(key: str, value: Any) -> Optional[Tuple[str, str]]:
    """Why an unknown numeric or boolean key cannot be exported, if it cannot."""
    if not key:
        return "a key with a name", "an empty key"
    if len(key) > MAX_KEY:
        return f"a key of at most {MAX_KEY} characters", f"a key of {len(key)} characters"
    if type(value) is int and not is_number(value):
        return "a number within float64 range", describe_json_value(value)
    return None


def is_exportable_unknown(value: Any) -> bool:
    """Unknown keys with a number or a boolean become untyped metrics; others are ignored."""
    return type(value) is bool or type(value) is int or is_number(value)


class Verdict(NamedTuple):
    """What a payload's check lets through, and why the rest is skipped.

    ``fields`` are the known keys that pass, as (metric, value) in catalogue order, each
    numeric value already the number it stands for (a Jackson ``"NaN"`` is ``nan``);
    ``unknown`` the unknown numeric or boolean keys that pass, in payload order. Keys of
    kind ``ignore`` are in neither. ``rejected`` and ``problems`` say what is skipped, one
    Problem per key, in catalogue order then (unknown keys) key order.
    """

    fields: List[Tuple[Metric, Any]]
    unknown: List[str]
    rejected: FrozenSet[str]
    problems: List[Problem]


def check_payload(payload: Dict[str, Any]) -> Verdict:
    # One walk of the catalogue gives the known fields in the order mapping writes them,
    # so mapping needs no second walk and no lookups of its own.
    fields: List[Tuple[Metric, Any]] = []
    drifts: Dict[str, Tuple[str, str]] = {}
    known = 0
    for metric in COLIBRI_METRICS:
        if metric.key not in payload:
            continue
        known += 1
        value = payload[metric.key]
        found = drift(metric.kind, value)
        if found is not None:
            drifts[metric.key] = found
        elif metric.kind == NUMBER and type(value) is str:  # one of Jackson's non-finite strings
            fields.append((metric, NON_FINITE_STRINGS[value]))
        elif metric.kind != IGNORE:
            fields.append((metric, value))
    unknown: List[str] = []
    problems: List[Problem] = []
    if known < len(payload):  # some keys are not in the catalogue
        for key, value in payload.items():
            if key in BY_KEY or not is_exportable_unknown(value):
                continue
            found = _unknown_drift(key, value)
            if found is None:
                unknown.append(key)
            else:
                problems.append(Problem(key, *found))
    if not drifts and not problems:
        return Verdict(fields, unknown, frozenset(), [])
    if drifts:
        # The schema has the last word on what is invalid.
        for error in schema_errors(payload):
            if error.key in BY_KEY and error.key not in drifts:
                kind = BY_KEY[error.key].kind
                drifts[error.key] = (EXPECTED[kind], describe_json_value(payload[error.key]))
        fields = [(metric, value) for metric, value in fields if metric.key not in drifts]
    problems = [Problem(m.key, *drifts[m.key]) for m in COLIBRI_METRICS if m.key in drifts] + sorted(problems)
    return Verdict(fields, unknown, frozenset(p.key for p in problems), problems)


class Finding(NamedTuple):
    """One problem of a payload as ``validate`` shows it, at a JSON pointer."""

    pointer: str
    message: str

    @property
    def key(self) -> str:
        """The top-level payload key the finding is about ("" for the payload itself)."""
        return self.pointer.split("/")[1] if self.pointer.count("/") else ""


_TYPE_WORDS = {"number": "a number", "boolean": "a boolean", "string": "a string",
               "array": "an array", "object": "an object"}


def _expected(schema: Dict[str, Any], validator: str) -> str:
    if "anyOf" in schema:
        return "a number"
    if validator == "maxLength":
        return f"a string of at most {schema['maxLength']} characters"
    kind = schema.get("type")
    if isinstance(kind, str):
        return _TYPE_WORDS.get(kind, kind)
    return "what the schema allows"


def _validator() -> Any:
    # Imported only here: a poll that finds nothing wrong never pays for jsonschema. Built
    # from the catalogue on each use (about 0.25 ms, a quarter of validating a whole payload), so the check
    # keeps no state and reads no file; a test proves the shipped schema file is the same.
    from jsonschema import Draft7Validator  # type: ignore[import-untyped,unused-ignore]

    from .schema import build_schema

    return Draft7Validator(build_schema())


def _pointer(parts: Any) -> str:
    return "".join("/" + loggable(str(part), MAX_SHOWN).replace("~", "~0").replace("/", "~1") for part in parts) or "/"


def schema_errors(payload: Any) -> List[Finding]:
    """Every problem the JSON schema finds, sorted by JSON pointer."""
    errors = []
    for error in _validator().iter_errors(payload):
        message = f"expected {_expected(error.schema, error.validator)}, got {describe_json_value(error.instance)}"
        errors.append(Finding(_pointer(error.absolute_path), message))
    errors.sort(key=lambda e: e.pointer)
    return errors


def payload_errors(payload: Any) -> List[Finding]:
    """The schema's findings plus the limits the schema cannot say, sorted by JSON pointer:
    every field these name is skipped when polled."""
    errors = schema_errors(payload)
    if isinstance(payload, dict):
        named = {e.key for e in errors}
        errors += [
            Finding(_pointer([p.key]), f"expected {p.expected}, got {p.got}")
            for p in check_payload(payload).problems if p.key not in named
        ]
        errors.sort(key=lambda e: e.pointer)
    return errors
