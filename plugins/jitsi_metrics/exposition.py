"""What a JVB or Jicofo ``/metrics`` endpoint serves, read into plain records. Pure.

Both forms the Jitsi components offer end up in one ``Exposition``: the text form
(Prometheus 0.0.4 or OpenMetrics 1.0, whichever the Accept header got) through
``parse_text`` and the JSON form (``Accept: application/json``) through ``from_json``.
An Exposition maps each series name, namespace removed, to its values:

    jitsi_jvb_conferences_created_total 3.0      -> "conferences_created_total": [((), 3.0)]
    jitsi_jvb_region_info{region="eu-1"} 1.0     -> "region_info": [((("region", "eu-1"),), 1.0)]
    {"conferences_by_size": {"bucket_le_2.0": 1.0, "count": 1.0, "sum": 2.0}}
        -> "conferences_by_size_bucket": [((("le", "2.0"),), 1.0)], "..._count", "..._sum"

The ``*_created`` timestamps simpleclient adds to counters and histograms are dropped:
they say when the series began, which is not a statistic of the bridge.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .samples import Labels

Series = Tuple[Labels, float]

# Longest line the parser accepts; a real JVB's longest is under 300 characters.
MAX_LINE = 4096
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_SUFFIXES = ("_total", "_created", "_bucket", "_count", "_sum", "_info", "_gcount", "_gsum")
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


class ExpositionError(ValueError):
    """Text that is not the Prometheus or OpenMetrics format; says which line and why."""

    def __init__(self, line_number: int, reason: str) -> None:
        super().__init__(f"line {line_number}: {reason}")
        self.line_number = line_number
        self.reason = reason


@dataclass(frozen=True)
class Exposition:
    """Series by name (namespace removed) and the type the component declared for each family."""

    series: Dict[str, List[Series]] = field(default_factory=dict)
    types: Dict[str, str] = field(default_factory=dict)

    def value(self, name: str) -> Optional[float]:
        """The value of an unlabelled series, or None when it is absent."""
        values = self.series.get(name)
        return values[0][1] if values else None


def _parse_labels(text: str, start: int, line_number: int) -> Tuple[Labels, int]:
    """Labels from ``{`` at ``start``; returns them and the index after ``}``."""
    labels: List[Tuple[str, str]] = []
    i = start + 1
    while True:
        while i < len(text) and text[i] in " \t,":
            i += 1
        if i >= len(text):
            raise ExpositionError(line_number, "label set not closed")
        if text[i] == "}":
            return tuple(labels), i + 1
        match = _LABEL_NAME.match(text, i)
        if match is None:
            raise ExpositionError(line_number, f"bad label name at column {i + 1}")
        name = match.group()
        i = match.end()
        if text[i:i + 2] != '="':
            raise ExpositionError(line_number, f'label {name!r} not followed by ="')
        i += 2
        chars: List[str] = []
        while True:
            if i >= len(text):
                raise ExpositionError(line_number, f"value of label {name!r} not closed")
            char = text[i]
            if char == '"':
                i += 1
                break
            if char == "\\" and i + 1 < len(text):
                chars.append(_ESCAPES.get(text[i + 1], "\\" + text[i + 1]))
                i += 2
                continue
            chars.append(char)
            i += 1
        labels.append((name, "".join(chars)))


def _parse_value(token: str, line_number: int) -> float:
    try:
        return float(token)
    except ValueError:
        raise ExpositionError(line_number, f"value {token[:40]!r} is not a number") from None


def _family_of(sample_name: str, families: Mapping[str, str]) -> str:
    if sample_name in families:
        return sample_name
    for suffix in _SUFFIXES:
        if sample_name.endswith(suffix) and sample_name[: -len(suffix)] in families:
            return sample_name[: -len(suffix)]
    return sample_name


def parse_text(text: str, namespaces: Tuple[str, ...] = ()) -> Exposition:
    """Parse 0.0.4 or OpenMetrics text; ``namespaces`` are prefixes to strip, longest first.

    Raises ExpositionError on the first malformed line, naming it: a half-read exposition
    would give numbers users cannot trust.
    """
    types: Dict[str, str] = {}
    raw: Dict[str, List[Series]] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if len(line) > MAX_LINE:
            raise ExpositionError(number, f"longer than {MAX_LINE} characters")
        if line[:1] == "#":
            # HELP and UNIT lines say nothing the catalogue does not; only TYPE matters.
            if line.startswith("# TYPE "):
                parts = line.split(None, 3)
                if len(parts) == 4:
                    types[parts[2]] = parts[3].strip()
            continue
        if not line.strip():
            continue
        match = _NAME.match(line)
        if match is None:
            raise ExpositionError(number, "does not start with a metric name")
        name = match.group()
        rest_at = match.end()
        labels: Labels = ()
        if rest_at < len(line) and line[rest_at] == "{":
            labels, rest_at = _parse_labels(line, rest_at, number)
        # An OpenMetrics exemplar follows " # "; the value is the first token either way.
        tokens = line[rest_at:].split("#", 1)[0].split()
        if not tokens:
            raise ExpositionError(number, f"no value for {name!r}")
        raw.setdefault(name, []).append((labels, _parse_value(tokens[0], number)))
    return _finish(raw, types, namespaces)


def _strip(name: str, namespaces: Tuple[str, ...]) -> str:
    for prefix in namespaces:
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def _finish(raw: Dict[str, List[Series]], types: Mapping[str, str], namespaces: Tuple[str, ...]) -> Exposition:
    series: Dict[str, List[Series]] = {}
    family_types: Dict[str, str] = {}
    for name, values in raw.items():
        if name.endswith("_created") and (
            name[:-8] + "_total" in raw or name[:-8] + "_bucket" in raw or name[:-8] + "_count" in raw
        ):
            continue
        family = _family_of(name, types)
        short = _strip(name, namespaces)
        series[short] = values
        family_types[short] = types.get(family, "untyped")
    return Exposition(series, family_types)


def _json_series(key: str, value: Any, out: Dict[str, List[Series]], types: Dict[str, str]) -> None:
    kind = type(value)
    if kind is bool:
        out[key] = [((), 1.0 if value else 0.0)]
        types[key] = "gauge"
    elif kind is int or kind is float:
        out[key] = [((), value)]
        types[key] = "counter" if key.endswith("_total") else "gauge"
    elif kind is str:
        if value in ("NaN", "Infinity", "-Infinity"):
            out[key] = [((), float(value))]
            types[key] = "gauge"
            return
        # Info metrics: {"region": "eu-1"} is region_info{region="eu-1"} in the text form.
        out[key + "_info"] = [(((key, value),), 1.0)]
        types[key + "_info"] = "info"
    elif kind is dict and any(str(k).startswith("bucket_le_") for k in value):
        buckets: List[Series] = []
        for sub, count in value.items():
            if type(count) not in (int, float):
                continue
            if sub.startswith("bucket_le_"):
                buckets.append(((("le", sub[len("bucket_le_"):]),), count))
            elif sub in ("count", "sum"):
                out[f"{key}_{sub}"] = [((), count)]
                types[f"{key}_{sub}"] = "histogram"
        out[key + "_bucket"] = buckets
        types[key + "_bucket"] = "histogram"


def from_json(payload: Mapping[str, Any]) -> Exposition:
    """The JSON form: ``{"name": value}`` without namespace; histograms are objects."""
    series: Dict[str, List[Series]] = {}
    types: Dict[str, str] = {}
    for key, value in payload.items():
        _json_series(str(key), value, series, types)
    return Exposition(series, types)


def merge_labels(ours: Labels, theirs: Labels) -> Labels:
    """Our labels (``bridge``) first, then the component's; a component label that would
    repeat one of ours is renamed ``exported_<name>``, as Prometheus does on a clash."""
    if not ours:
        return theirs
    taken = {name for name, _ in ours}
    return ours + tuple((f"exported_{name}" if name in taken else name, value) for name, value in theirs)


def series_key(name: str, labels: Labels) -> str:
    """A name for one series that stays unique without labels, for front ends that name
    values by key (collectd's type instance): ``bridge_endpoints-jvb-1``."""
    if not labels:
        return name
    return name + "-" + "-".join(value for _, value in labels)


def is_integral(value: float) -> bool:
    return math.isfinite(value) and value == int(value)
