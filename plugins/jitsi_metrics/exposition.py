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

The text is the bridge's, so it is checked before anything is kept; what fails costs
that series or family only, recorded in ``Exposition.dropped`` for the mapper to report:
a series naming one label twice, a repeated series (the first is kept), a label value
longer than any real one, a histogram without a numeric ``le`` on every bucket or
without its ``+Inf`` bucket. Labels a renderer or Prometheus gives a meaning of their
own (``bridge``, ``__*``, ``le`` outside a histogram's buckets) are renamed
``exported_<name>``, as Prometheus does on a clash.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Set, Tuple

from .check import MAX_TEXT
from .samples import Labels

Series = Tuple[Labels, float]

# Longest line the parser accepts; a real JVB's longest is under 300 characters.
MAX_LINE = 4096
# Most series one answer may hold. A JVB in a conference serves about 260, Jicofo about
# 50; a 10 MB body of 520 000 series took `once` 6 s and 500 MB, so past this the answer is
# refused whole (a cut-off exposition would give half a histogram, numbers not to trust).
MAX_SERIES = 10_000
# Label names only we or Prometheus may give a meaning (our bridge label, Prometheus'
# reserved __ prefix); a component's own label so named is renamed exported_<name>.
_OURS = "bridge"
_BUCKET_LABEL = "le"
# The exposition grammar's numbers: Go's ParseFloat would take more ("1_000", "infinity",
# hex), but no Prometheus client writes those, and Python's float() takes them too.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?Inf|NaN")
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_SUFFIXES = ("_total", "_created", "_bucket", "_count", "_sum", "_info", "_gcount", "_gsum")
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


class Dropped(NamedTuple):
    """A series or family left out, e.g. ``Dropped("h", _HISTOGRAM_EXPECTED, "no +Inf bucket")``."""

    key: str
    expected: str
    got: str


class ExpositionError(ValueError):
    """Text that is not the Prometheus or OpenMetrics format; says which line and why."""

    def __init__(self, line_number: int, reason: str) -> None:
        super().__init__(f"line {line_number}: {reason}")
        self.line_number = line_number
        self.reason = reason


class TooManySeries(ValueError):
    """More than MAX_SERIES series in one answer: no real component sends so many."""

    def __init__(self) -> None:
        super().__init__(f"more than {MAX_SERIES} series, more than any Jitsi component sends")


@dataclass(frozen=True)
class Exposition:
    """Series by name (namespace removed) and the type the component declared for each family."""

    series: Dict[str, List[Series]] = field(default_factory=dict)
    types: Dict[str, str] = field(default_factory=dict)
    dropped: List[Dropped] = field(default_factory=list)

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


def parse_number(token: str) -> Optional[float]:
    """A number as the exposition grammar spells it (``1.5e3``, ``+Inf``, ``NaN``), else None."""
    try:
        number = float(token)
    except ValueError:
        return None
    if math.isfinite(number):
        # Beyond the grammar, float() takes only "_" and non-ASCII digits in a finite number
        # without spaces; checking for those is about twice as quick as the regex, per value.
        return number if token.isascii() and "_" not in token else None
    return number if _NUMBER.fullmatch(token) else None


def _parse_value(token: str, line_number: int) -> float:
    number = parse_number(token)
    if number is None:
        raise ExpositionError(line_number, f"value {token[:40]!r} is not a number") from None
    return number


def _own_label(name: str, bucket: bool) -> str:
    """The label name a component's label gets here: ``exported_<name>`` for one of ours."""
    if name == _OURS or name.startswith("__") or (name == _BUCKET_LABEL and not bucket):
        return "exported_" + name
    return name


class _Checked:
    """What parse_text has kept so far, and what it dropped (one note per name and reason)."""

    def __init__(self) -> None:
        self.raw: Dict[str, List[Series]] = {}
        self.seen: Set[Tuple[str, Any]] = set()
        self.dropped: Dict[Tuple[str, str], Dropped] = {}
        self.count = 0

    def drop(self, key: str, expected: str, got: str) -> None:
        self.dropped.setdefault((key, expected), Dropped(key, expected, got))

    def add(self, name: str, labels: Labels, value: float, bucket: bool) -> None:
        identity: Tuple[str, Any] = (name, labels)
        if labels:
            labels = tuple((_own_label(k, bucket), v) for k, v in labels)
            if len(labels) > 1:
                if len({k for k, _ in labels}) != len(labels):
                    self.drop(name, "each label name once", "a label name repeated in one series")
                    return
                # Label order does not make another series.
                identity = (name, frozenset(labels))
            else:
                identity = (name, labels)
            if any(len(v) > MAX_TEXT for _, v in labels):
                self.drop(name, f"label values of at most {MAX_TEXT} characters", "a longer one")
                return
        if identity in self.seen:
            self.drop(name, "one value per label set", "a repeated series (the first is kept)")
            return
        self.count += 1
        if self.count > MAX_SERIES:
            raise TooManySeries()
        self.seen.add(identity)
        self.raw.setdefault(name, []).append((labels, value))


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
    would give numbers users cannot trust; TooManySeries past MAX_SERIES series.
    """
    types: Dict[str, str] = {}
    checked = _Checked()
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
        bucket = name.endswith("_bucket") and types.get(name[: -len("_bucket")]) == "histogram"
        checked.add(name, labels, _parse_value(tokens[0], number), bucket)
    return _finish(checked.raw, types, namespaces, list(checked.dropped.values()))


def _strip(name: str, namespaces: Tuple[str, ...]) -> str:
    for prefix in namespaces:
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


_HISTOGRAM_EXPECTED = "a histogram: a numeric le on every bucket and a +Inf bucket"


def checked_buckets(buckets: List[Series]) -> Tuple[Optional[List[Series]], str]:
    """A histogram's buckets sorted by ``le`` within each label set, or (None, what is wrong)."""
    if not buckets:
        return None, "no buckets"
    groups: Dict[Labels, int] = {}
    keyed: List[Tuple[int, float, Series]] = []
    has_inf: Set[int] = set()
    for labels, value in buckets:
        others = tuple(pair for pair in labels if pair[0] != _BUCKET_LABEL)
        les = [v for k, v in labels if k == _BUCKET_LABEL]
        bound = parse_number(les[0]) if les else None
        if bound is None or math.isnan(bound):
            return None, "a bucket without a numeric le"
        group = groups.setdefault(others, len(groups))
        if bound == math.inf:
            has_inf.add(group)
        keyed.append((group, bound, (labels, value)))
    if len(has_inf) != len(groups):
        return None, "no +Inf bucket"
    keyed.sort(key=lambda item: (item[0], item[1]))
    return [series for _, _, series in keyed], ""


def _check_histograms(raw: Dict[str, List[Series]], types: Mapping[str, str], dropped: List[Dropped]) -> None:
    """Keeps a histogram family only when it is whole (see checked_buckets); drops it else."""
    for family, kind in types.items():
        if kind != "histogram":
            continue
        members = [family + s for s in ("", "_bucket", "_sum", "_count", "_created") if family + s in raw]
        if not members:
            continue
        if family in raw:
            got = "a sample without _bucket, _sum or _count"
        else:
            buckets, got = checked_buckets(raw.get(family + "_bucket", []))
            if buckets is not None:
                raw[family + "_bucket"] = buckets
                continue
        for name in members:
            del raw[name]
        dropped.append(Dropped(family, _HISTOGRAM_EXPECTED, got))


def _finish(raw: Dict[str, List[Series]], types: Mapping[str, str], namespaces: Tuple[str, ...],
            dropped: List[Dropped]) -> Exposition:
    _check_histograms(raw, types, dropped)
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
    return Exposition(series, family_types, [d._replace(key=_strip(d.key, namespaces)) for d in dropped])


def _json_series(key: str, value: Any, out: Dict[str, List[Series]], types: Dict[str, str],
                 dropped: List[Dropped]) -> None:
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
        if len(value) > MAX_TEXT:
            dropped.append(Dropped(key, f"a string of at most {MAX_TEXT} characters", f"{len(value)} characters"))
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
        checked, got = checked_buckets(buckets)
        if checked is None:
            dropped.append(Dropped(key, _HISTOGRAM_EXPECTED, got))
            return
        for sub in ("count", "sum"):
            if type(value.get(sub)) in (int, float):
                out[f"{key}_{sub}"] = [((), value[sub])]
                types[f"{key}_{sub}"] = "histogram"
        out[key + "_bucket"] = checked
        types[key + "_bucket"] = "histogram"


def from_json(payload: Mapping[str, Any]) -> Exposition:
    """The JSON form: ``{"name": value}`` without namespace; histograms are objects."""
    series: Dict[str, List[Series]] = {}
    types: Dict[str, str] = {}
    dropped: List[Dropped] = []
    count = 0
    for key, value in payload.items():
        # A histogram object is a series per bucket; counted before it is read.
        count += len(value) if isinstance(value, dict) else 1
        if count > MAX_SERIES:
            raise TooManySeries()
        _json_series(str(key), value, series, types, dropped)
    return Exposition(series, types, dropped)


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
