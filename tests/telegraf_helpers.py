"""Helpers shared by test_telegraf.py and test_telegraf_integration.py.

What Telegraf should write for a payload is derived from the core's own mapping of
that payload, never written down by hand.
"""
from __future__ import annotations

import json
import math
import re
import shutil
import sys
from pathlib import Path
from typing import Dict, FrozenSet, Iterable, List, NamedTuple, Optional, Tuple

from conftest import REPO

from jitsi_metrics.mapping import map_payload, meta_families
from jitsi_metrics.render.influx import FIELD_PREFIX, MEASUREMENT
from jitsi_metrics.samples import Family

SNIPPET_DIR = REPO / "telegraf"
SNIPPETS = {
    "execd-prometheus": SNIPPET_DIR / "jitsi-execd-prometheus.conf",
    "execd-influx": SNIPPET_DIR / "jitsi-execd-influx.conf",
    "exec-once": SNIPPET_DIR / "jitsi-exec-once.conf",
}
PLACEHOLDER_URL = "http://127.0.0.1:8080/colibri/stats"
COMMAND = "jitsi-metrics"
DURATION = "jitsi_scrape_duration_seconds"


def console_script() -> str:
    """The installed ``jitsi-metrics`` of the Python running the tests.

    Snippets say ``jitsi-metrics`` (the user's PATH); tests put the absolute path of the
    console script in its place, preferring the one beside this interpreter so the
    code under test is the code of this checkout.
    """
    beside = Path(sys.executable).parent / COMMAND
    if beside.is_file():
        return str(beside)
    found = shutil.which(COMMAND)
    assert found, "jitsi-metrics is not installed; run pip install -e '.[test]'"
    return found


def expected_families(payload: bytes, labels: Tuple[Tuple[str, str], ...] = ()) -> List[Family]:
    """What one successful poll of a bridge serving ``payload`` yields, per the core."""
    return meta_families(True, 0.0, labels) + map_payload(json.loads(payload), labels).families


class Point(NamedTuple):
    """One field of one line-protocol line, as Telegraf wrote it."""

    measurement: str
    tags: FrozenSet[Tuple[str, str]]
    field: str
    value: float
    timestamp: Optional[int]


_UNESCAPE = re.compile(r"\\(.)")


def _split(text: str, sep: str) -> List[str]:
    """Split on ``sep`` outside backslash escapes and double-quoted strings."""
    parts, current, quoted, i = [], [], False, 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            current.append(text[i:i + 2])
            i += 2
            continue
        if char == '"':
            quoted = not quoted
        if char == sep and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    parts.append("".join(current))
    return parts


def parse_line_protocol(text: str) -> List[Point]:
    """Numeric fields of every line (string fields are skipped: we send none)."""
    points: List[Point] = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        sections = _split(line, " ")
        key, fields = sections[0], sections[1]
        stamp = int(sections[2]) if len(sections) > 2 and sections[2] else None
        measurement, *tag_parts = _split(key, ",")
        tags = frozenset(
            (_UNESCAPE.sub(r"\1", k), _UNESCAPE.sub(r"\1", v))
            for k, v in (_split(t, "=")[:2] for t in tag_parts)
        )
        for field in _split(fields, ","):
            name, raw = _split(field, "=")[:2]
            if raw.startswith('"'):
                continue
            value = float(raw[:-1]) if raw.endswith(("i", "u")) else float(raw)
            points.append(Point(_UNESCAPE.sub(r"\1", measurement), tags, _UNESCAPE.sub(r"\1", name), value, stamp))
    return points


Key = Tuple[str, FrozenSet[Tuple[str, str]], str]


def telegraf_view(families: Iterable[Family], data_format: str) -> Dict[Key, float]:
    """The (measurement, tags, field) -> value Telegraf should hold for these families.

    prometheus (metric version 2): measurement "prometheus", field = metric name,
    labels as tags minus empty values, NaN dropped. influx: measurement "jitsi", field =
    metric name without "jitsi_", NaN and infinities dropped (line protocol has none).
    """
    view: Dict[Key, float] = {}
    for family, sample in ((f, s) for f in families for s in f.samples):
        value = float(sample.value)
        tags = frozenset((k, v) for k, v in sample.labels if v != "")
        if data_format == "prometheus":
            if math.isnan(value):
                continue
            view[("prometheus", tags, family.name)] = value
        else:
            if not math.isfinite(value):
                continue
            field = family.name[len(FIELD_PREFIX):] if family.name.startswith(FIELD_PREFIX) else family.name
            view[(MEASUREMENT, tags, field)] = value
    return view


def is_duration(key: Key) -> bool:
    return key[2] in (DURATION, DURATION[len(FIELD_PREFIX):])


def missing_or_wrong(expected: Dict[Key, float], points: Iterable[Point], drop_tag: str = "") -> List[str]:
    """Expected fields that no point carries with the expected value (duration: any value)."""
    seen: Dict[Key, set] = {}
    for p in points:
        tags = frozenset(t for t in p.tags if t[0] != drop_tag) if drop_tag else p.tags
        seen.setdefault((p.measurement, tags, p.field), set()).add(p.value)
    problems = []
    for key, value in expected.items():
        values = seen.get(key)
        if not values:
            problems.append(f"{key[0]} {sorted(key[1])} {key[2]}: missing")
        elif not is_duration(key) and value not in values:
            problems.append(f"{key[0]} {sorted(key[1])} {key[2]}: expected {value!r}, got {sorted(values)!r}")
    return problems
