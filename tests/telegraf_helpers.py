"""Helpers shared by test_telegraf.py and test_telegraf_integration.py.

What Telegraf should write for a payload comes from the payload's golden case
(tests/cases/<case>/expected.prom or expected.influx, reviewed by hand against the
payload), never from the core's own mapping.
"""
from __future__ import annotations

import math
import re
import shutil
import sys
from pathlib import Path
from typing import Dict, FrozenSet, Iterable, List, NamedTuple, Optional, Set, Tuple

import textformat
from conftest import REPO
from golden import MASK, expected_text

SNIPPET_DIR = REPO / "telegraf"
# The snippets whose command Telegraf runs (inputs.exec, inputs.execd), with the placeholder
# URL in the command; test_telegraf_integration.py runs each in a real Telegraf.
COMMAND_SNIPPETS = {
    "execd-prometheus": SNIPPET_DIR / "jitsi-execd-prometheus.conf",
    "execd-influx": SNIPPET_DIR / "jitsi-execd-influx.conf",
    "exec-once": SNIPPET_DIR / "jitsi-exec-once.conf",
}
# Every shipped snippet; inputs.prometheus scraping `jitsi-metrics serve` is run by
# test_telegraf_types.py.
SNIPPETS = {**COMMAND_SNIPPETS, "prometheus-serve": SNIPPET_DIR / "jitsi-prometheus-serve.conf"}
PLACEHOLDER_URL = "http://127.0.0.1:8080/colibri/stats"
COMMAND = "jitsi-metrics"
DURATION = "jitsi_scrape_duration_seconds"
FIELD_PREFIX = "jitsi_"  # what our line protocol strips from a metric name to name its field


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


def telegraf_view(case: str, data_format: str) -> Dict[Key, float]:
    """The (measurement, tags, field) -> value Telegraf should hold for golden case ``case``.

    prometheus (metric version 2): measurement "prometheus", field = metric name, labels
    as tags, NaN dropped; from expected.prom. influx: the points of expected.influx as
    they are (measurement "jitsi", NaN and infinities already left out). The masked
    duration reads as 0; is_duration() keys are checked for presence only.
    """
    text = expected_text(case, data_format)
    view: Dict[Key, float] = {}
    if data_format == "prometheus":
        for family in textformat.parse(text.replace(f" {MASK}\n", " 0\n")).values():
            for sample in family.samples:
                if not math.isnan(sample.value):
                    view[("prometheus", frozenset(sample.labels), sample.name)] = sample.value
        return view
    for point in parse_line_protocol(text.replace(f"={MASK}", "=0")):
        view[(point.measurement, point.tags, point.field)] = point.value
    return view


def is_duration(key: Key) -> bool:
    return key[2] in (DURATION, DURATION[len(FIELD_PREFIX):])


def missing_or_wrong(expected: Dict[Key, float], points: Iterable[Point], drop_tag: str = "") -> List[str]:
    """Expected fields that no point carries with the expected value (duration: any value)."""
    seen: Dict[Key, Set[float]] = {}
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
