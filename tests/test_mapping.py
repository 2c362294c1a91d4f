from __future__ import annotations

import json
import math
import re

import pytest

import textformat
from golden import CASES, case_names
from jitsi_metrics.mapping import map_payload, meta_samples
from jitsi_metrics.samples import COUNTER, GAUGE, UNTYPED


@pytest.mark.parametrize("name", case_names())
def test_every_case_maps_to_its_reviewed_samples(name):
    # The expectation is the case's hand-reviewed expected.prom (tests/cases/README.md), minus the
    # two samples of the poll itself: every value as the bridge said it, nothing it did not send.
    case = CASES / name
    payload = json.loads((case / "payload.json").read_bytes())
    families = textformat.parse((case / "expected.prom").read_text(encoding="utf-8").replace(" SECONDS\n", " 0\n"))
    expected = [
        (s.name, s.labels, s.value, family.type)
        for name_, family in families.items() if name_ not in ("jitsi_up", "jitsi_scrape_duration_seconds")
        for s in family.samples
    ]
    mapped = map_payload(payload)
    got = [(s.name, s.labels, float(s.value), s.type) for s in mapped.samples]
    assert len(got) == len(expected)
    for want, have in zip(expected, got):
        assert want[:2] == have[:2] and want[3] == have[3], (want, have)
        assert want[2] == have[2] or (math.isnan(want[2]) and math.isnan(have[2])), (want, have)
    # The dropped fields are the ones the reviewed warnings name, in the same order.
    warned = re.findall(r'key "([^"]+)"', (case / "expected.warnings").read_text(encoding="utf-8"))
    assert [p.key for p in mapped.problems] == warned


def test_absent_key_gives_no_sample():
    mapped = map_payload({"conferences": 2})
    assert [(s.name, s.value) for s in mapped.samples] == [("jitsi_conferences", 2)]
    assert not mapped.problems and not mapped.empty


def test_wrong_type_costs_only_that_field():
    payload = {"conference_sizes": "[]", "conferences": 1, "bit_rate_download": None, "healthy": True}
    mapped = map_payload(payload)
    assert [(s.name, s.value) for s in mapped.samples] == [("jitsi_conferences", 1), ("jitsi_healthy", 1)]
    assert [(p.key, p.expected, p.got) for p in mapped.problems] == [
        ("bit_rate_download", "a number", "null"),
        ("conference_sizes", "an array of numbers", "the string '[]'"),
    ]
    assert mapped.warnings("meet1")[1] == (
        'Bridge "meet1": key "conference_sizes" expected an array of numbers, got the string \'[]\'; field skipped'
    )


def test_empty_payload_says_how_to_enable_stats():
    mapped = map_payload({})
    assert mapped.samples == [] and mapped.empty
    (warning,) = mapped.warnings("meet1")
    assert warning.startswith('Bridge "meet1": ') and "videobridge.stats.enabled=true" in warning


def test_unknown_numeric_and_boolean_keys_become_untyped():
    mapped = map_payload({"future_gauge": 4.5, "future-flag": False, "future_text": "x", "future_obj": {}})
    assert [(s.name, s.value, s.type) for s in mapped.samples] == [
        ("jitsi_future_flag", 0, UNTYPED), ("jitsi_future_gauge", 4.5, UNTYPED),
    ]


def test_labels_come_first_and_arrays_and_info_add_theirs():
    mapped = map_payload({"conference_sizes": [0, 3], "region": "eu"}, labels=(("bridge", "meet1"),))
    assert [(s.name, s.labels, s.value) for s in mapped.samples] == [
        ("jitsi_region_info", (("bridge", "meet1"), ("region", "eu")), 1),
        ("jitsi_conference_sizes", (("bridge", "meet1"), ("conference_size", "0")), 0),
        ("jitsi_conference_sizes", (("bridge", "meet1"), ("conference_size", "1")), 3),
    ]


def test_legacy_names_only_when_asked():
    payload = {"total_ice_failed": 2}
    assert [s.name for s in map_payload(payload).samples] == ["jitsi_total_ice_failed"]
    legacy = map_payload(payload, legacy_names=True).samples
    assert [(s.name, s.value, s.type) for s in legacy] == [
        ("jitsi_total_ice_failed", 2, COUNTER), ("total_ice_failed", 2, COUNTER),
    ]


def test_jackson_nan_strings_become_floats():
    (sample,) = map_payload({"rtt_aggregate": "NaN"}).samples
    assert math.isnan(sample.value)


def test_order_is_stable_whatever_the_payload_order():
    keys = ["total_bytes_sent", "conferences", "healthy", "version"]
    payload = {k: (1 if k != "version" else "v") for k in keys}
    forward = [s.name for s in map_payload(payload).samples]
    backward = [s.name for s in map_payload(dict(reversed(list(payload.items())))).samples]
    assert forward == backward


def test_meta_samples():
    up, duration = meta_samples(False, 0.25, (("bridge", "b"),))
    assert (up.name, up.value, up.type) == ("jitsi_up", 0, GAUGE)
    assert (duration.name, duration.value) == ("jitsi_scrape_duration_seconds", 0.25)
    assert up.labels == duration.labels == (("bridge", "b"),)
