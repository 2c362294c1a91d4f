"""Property tests of the core with hypothesis: whatever JSON object a bridge sends, the
check, the mapping and both renderers never raise, and what they write parses back
with independent parsers (tests/textformat.py, prometheus_client, tests/lineproto.py)
to the values the core produced, which for every plain numeric or boolean known key
are the payload's own.

The core's API is used in one place only, ``core()`` below, so a change of that API is
one edit here.
"""
from __future__ import annotations

import math
import re
from typing import Any, Dict, List, NamedTuple, Tuple

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lineproto
import textformat
from jitsi_metrics.catalogue import BOOL, BY_KEY, COLIBRI_METRICS, NUMBER

EXAMPLES = 300
TIMESTAMP_NS = 1_700_000_000_000_000_000
Labels = Tuple[Tuple[str, str], ...]


class CoreOutput(NamedTuple):
    samples: List[Tuple[str, Labels, Any]]  # (name, labels, value) as the core made them
    prometheus: str
    influx: str


def core(payload: Dict[str, Any]) -> CoreOutput:
    """The adapter: check, map and render one payload the way every front end does."""
    from jitsi_metrics.check import payload_errors
    from jitsi_metrics.mapping import map_payload, meta_families
    from jitsi_metrics.render import render
    from jitsi_metrics.samples import merge_families

    labels: Labels = (("bridge", "b1"),)
    payload_errors(payload)  # the check step, as `validate` runs it
    mapped = map_payload(payload, labels)
    mapped.warnings("b1")
    families = merge_families([meta_families(True, 0.25, labels), mapped.families])
    return CoreOutput(
        [(f.name, s.labels, s.value) for f in families for s in f.samples],
        render(families, "prometheus"),
        render(families, "influx", TIMESTAMP_NS),
    )


# ---------------------------------------------------------------- strategies

SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
HOSTILE_TEXT = st.text(st.one_of(st.characters(), SURROGATES, st.sampled_from(' "\\\n\r\t=,{}#\x00\x1b\x07é€🙂')),
                       max_size=20)
KEYS = st.one_of(
    HOSTILE_TEXT,
    st.sampled_from([m.key for m in COLIBRI_METRICS]),
    st.sampled_from(["", "up", "scrape_duration_seconds", "version_info", "a b", "a_b", "a-b", "jitsi_up"]),
    st.builds(lambda c, n: c * n, st.sampled_from("kx_ é"), st.integers(4990, 5000)),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, float("nan"), float("inf"), float("-inf"), 2**63, 2**63 - 1, -(2**63) - 1]),
    st.sampled_from(["NaN", "Infinity", "-Infinity"]),
    HOSTILE_TEXT,
)
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(HOSTILE_TEXT, inner, max_size=4), max_leaves=8,
)
PAYLOADS = st.dictionaries(KEYS, VALUES, max_size=25)


# ---------------------------------------------------------------- helpers

def _float(value: Any) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _same(got: float, want: float) -> bool:
    return (math.isnan(got) and math.isnan(want)) or got == want


PROM_VALUE = re.compile(r" (\S+)$")


def _check_prometheus(out: CoreOutput) -> None:
    text = out.prometheus
    text.encode("utf-8")  # a lone surrogate makes this raise: output must be UTF-8
    families = textformat.parse(text)
    from prometheus_client.parser import text_string_to_metric_families

    client = [s for f in text_string_to_metric_families(text) for s in f.samples]
    parsed = [(s.name, s.labels, s.value) for f in families.values() for s in f.samples]
    assert len(client) == len(parsed)
    keys = [(n, labels) for n, labels, _ in parsed]
    assert len(keys) == len(set(keys)), "the same series twice"
    for line in text.splitlines():
        if not line.startswith("#"):
            token = PROM_VALUE.search(line).group(1)  # type: ignore[union-attr]
            assert token in ("NaN", "+Inf", "-Inf") or math.isfinite(float(token)), \
                f"value {token[:40]}… is beyond float64: Go's ParseFloat (promtool, Prometheus) rejects it"
    expected = {(n, labels): v for n, labels, v in out.samples}
    for name, labels, value in parsed:
        assert (name, labels) in expected
        assert _same(value, _float(expected[(name, labels)]))


def _check_influx(out: CoreOutput) -> None:
    text = out.influx
    text.encode("utf-8")
    points = lineproto.parse(text)
    seen = set()
    for point in points:
        assert point.measurement == "jitsi", f"stray measurement {point.measurement[:80]!r}"
        assert point.timestamp == TIMESTAMP_NS
        assert point.tags.get("bridge") == "b1"
        for field, value in point.fields.items():
            key = (tuple(sorted(point.tags.items())), field)
            assert key not in seen, f"field {field[:80]!r} twice on one series"
            seen.add(key)
            assert not (isinstance(value, float) and not math.isfinite(value))


def _plain_number(value: Any) -> bool:
    # abs() first: math.isfinite() raises on an int beyond float64; NaN and ±Inf fail the bound.
    return type(value) in (int, float) and abs(value) < 2**53


# ---------------------------------------------------------------- properties

SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(PAYLOADS)
def test_any_payload_renders_to_prometheus_text_that_parses_back(payload: Dict[str, Any]) -> None:
    out = core(payload)
    _check_prometheus(out)


@SETTINGS
@given(PAYLOADS)
def test_any_payload_renders_to_line_protocol_that_parses_back(payload: Dict[str, Any]) -> None:
    out = core(payload)
    _check_influx(out)


@SETTINGS
@given(PAYLOADS)
def test_plain_known_numbers_and_booleans_come_through_unchanged(payload: Dict[str, Any]) -> None:
    """The oracle is the payload itself: a known numeric key with a plain number, or a
    known boolean key with a boolean, is in the output with exactly that value."""
    out = core(payload)
    values = {n: v for n, _, v in out.samples}
    for key, value in payload.items():
        metric = BY_KEY.get(key)
        if metric is None:
            continue
        if metric.kind == NUMBER and type(value) is not bool and _plain_number(value):
            assert values.get(metric.name) == value, key
        elif metric.kind == BOOL and type(value) is bool:
            assert values.get(metric.name) == int(value), key
    # and the round trip of exactly those through the Prometheus text
    families = textformat.parse(out.prometheus).values()
    parsed = {s.name: s.value for f in families for s in f.samples if len(s.labels) == 1}
    for key, value in payload.items():
        metric = BY_KEY.get(key)
        if metric is not None and metric.kind == NUMBER and type(value) is not bool and _plain_number(value):
            assert parsed.get(metric.name) == float(value), key


@settings(max_examples=50, deadline=None)
@given(st.sampled_from([m.key for m in COLIBRI_METRICS if m.kind == NUMBER]), st.integers(2**1024, 10**400))
def test_a_number_beyond_float64_never_breaks_either_format(key: str, value: int) -> None:
    payload = {key: value, "conferences_extra": 1, "participants": 2}
    out = core(payload)
    _check_prometheus(out)
    _check_influx(out)
