from __future__ import annotations

import json
import math
import re
from typing import NamedTuple

import pytest

import textformat
from golden import CASES, case_names
from jitsi_metrics.catalogue import BY_KEY
from jitsi_metrics.detect import JICOFO_STATS, classify_object
from jitsi_metrics.mapping import map_payload, meta_families
from jitsi_metrics.samples import COUNTER, GAUGE, UNTYPED
from jitsi_metrics.sources import map_object


class Flat(NamedTuple):
    name: str
    value: float
    labels: tuple
    type: str
    key: str


def flat(families):
    """Every sample with its family's name, type and key."""
    return [Flat(f.name, s.value, s.labels, f.type, f.key) for f in families for s in f.samples]


def by_name_and_labels(samples):
    return {(s.name, s.labels): s for s in samples}


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
    # Jicofo's /stats served where a bridge's was expected is read as Jicofo (source_client.py).
    if classify_object("/colibri/stats", payload).source == JICOFO_STATS:
        mapped = map_object(JICOFO_STATS, payload)
    else:
        mapped = map_payload(payload)
    got = [(s.name, s.labels, float(s.value), s.type) for s in flat(mapped.families)]
    assert len(got) == len(expected)
    for want, have in zip(expected, got):
        assert want[:2] == have[:2] and want[3] == have[3], (want, have)
        assert want[2] == have[2] or (math.isnan(want[2]) and math.isnan(have[2])), (want, have)
    # The dropped fields are the ones the reviewed warnings name, in the same order.
    warned = re.findall(r'key "([^"]+)"', (case / "expected.warnings").read_text(encoding="utf-8"))
    assert [p.key for p in mapped.problems] == warned


def test_absent_key_gives_no_sample():
    mapped = map_payload({"conferences": 2})
    assert [(s.name, s.value) for s in flat(mapped.families)] == [("jitsi_conferences", 2)]
    assert not mapped.problems and not mapped.empty


def test_wrong_type_costs_only_that_field():
    payload = {"conference_sizes": "[]", "conferences": 1, "bit_rate_download": None, "healthy": True}
    mapped = map_payload(payload)
    assert [(s.name, s.value) for s in flat(mapped.families)] == [("jitsi_conferences", 1), ("jitsi_healthy", 1)]
    assert [(p.key, p.expected, p.got) for p in mapped.problems] == [
        ("bit_rate_download", "a number", "null"),
        ("conference_sizes", "an array of numbers", "the string '[]'"),
    ]
    assert mapped.warnings("meet1")[1] == (
        'Bridge "meet1": key "conference_sizes" expected an array of numbers, got the string \'[]\'; field skipped'
    )


def test_empty_payload_says_how_to_enable_stats():
    mapped = map_payload({})
    assert mapped.families == [] and mapped.empty
    (warning,) = mapped.warnings("meet1")
    assert warning.startswith('Bridge "meet1": ') and "videobridge.stats.enabled=true" in warning


def test_unknown_numeric_and_boolean_keys_become_untyped():
    mapped = map_payload({"future_gauge": 4.5, "future-flag": False, "future_text": "x", "future_obj": {}})
    assert [(s.name, s.value, s.type) for s in flat(mapped.families)] == [
        ("jitsi_future_flag", 0, UNTYPED), ("jitsi_future_gauge", 4.5, UNTYPED),
    ]


def test_labels_come_first_and_arrays_and_info_add_theirs():
    mapped = map_payload({"conference_sizes": [0, 3], "region": "eu"}, labels=(("bridge", "meet1"),))
    assert [(s.name, s.labels, s.value) for s in flat(mapped.families)] == [
        ("jitsi_region_info", (("bridge", "meet1"), ("region", "eu")), 1),
        ("jitsi_conference_sizes", (("bridge", "meet1"), ("conference_size", "0")), 0),
        ("jitsi_conference_sizes", (("bridge", "meet1"), ("conference_size", "1")), 3),
    ]


def test_legacy_names_only_when_asked():
    payload = {"total_ice_failed": 2}
    assert [s.name for s in flat(map_payload(payload).families)] == ["jitsi_total_ice_failed"]
    legacy = flat(map_payload(payload, legacy_names=True).families)
    assert [(s.name, s.value, s.type) for s in legacy] == [
        ("jitsi_total_ice_failed", 2, COUNTER), ("total_ice_failed", 2, COUNTER),
    ]


def test_jackson_nan_strings_become_floats():
    (sample,) = flat(map_payload({"rtt_aggregate": "NaN"}).families)
    assert math.isnan(sample.value)


def test_order_is_stable_whatever_the_payload_order():
    keys = ["total_bytes_sent", "conferences", "healthy", "version"]
    payload = {k: (1 if k != "version" else "v") for k in keys}
    forward = [s.name for s in flat(map_payload(payload).families)]
    backward = [s.name for s in flat(map_payload(dict(reversed(list(payload.items())))).families)]
    assert forward == backward


def test_meta_families():
    up, duration = flat(meta_families(False, 0.25, (("bridge", "b"),)))
    assert (up.name, up.value, up.type) == ("jitsi_up", 0, GAUGE)
    assert (duration.name, duration.value) == ("jitsi_scrape_duration_seconds", 0.25)
    assert up.labels == duration.labels == (("bridge", "b"),)


def test_families_hold_their_samples_and_header_once():
    mapped = map_payload({"conference_sizes": [1, 2], "conferences": 3}, labels=(("bridge", "b"),))
    sizes = next(f for f in mapped.families if f.name == "jitsi_conference_sizes")
    assert (sizes.type, sizes.key, len(sizes.samples)) == (GAUGE, "conference_sizes", 2)
    assert sizes.help == BY_KEY["conference_sizes"].help_text
    assert [f.name for f in mapped.families].count("jitsi_conference_sizes") == 1


# Issue 11, item 2: a lone surrogate is not a string a label can carry.
@pytest.mark.parametrize("key", ["version", "region", "release", "relay_id"])
def test_lone_surrogate_in_a_bridge_string_costs_that_field(key):
    mapped = map_payload({key: "2.3\ud800", "conferences": 1})
    assert [s.name for s in flat(mapped.families)] == ["jitsi_conferences"]
    (problem,) = mapped.problems
    assert problem.key == key and "surrogate" in problem.got
    # The warning itself is writable as UTF-8.
    mapped.warnings("meet1")[0].encode("utf-8")


# Issue 11, item 3: integers beyond float64, known key or unknown.
@pytest.mark.parametrize("key", ["conferences", "total_bytes_sent", "a_future_counter"])
@pytest.mark.parametrize("sign", [1, -1])
def test_integer_beyond_float64_is_dropped_with_a_warning_naming_its_size(key, sign):
    mapped = map_payload({key: sign * 10**4000, "threads": 7})
    assert [(s.name, s.value) for s in flat(mapped.families)] == [("jitsi_threads", 7)]
    (warning,) = mapped.warnings("meet1")
    assert f'key "{key}"' in warning and "an integer of 4001 digits" in warning and len(warning) < 300


def test_integers_up_to_float64_range_and_non_finite_floats_stay():
    big = 2**1000
    payload = {"conferences": big, "rtt_aggregate": float("nan"), "bit_rate_upload": float("inf"), "future": -big}
    mapped = map_payload(payload)
    values = {s.name: s.value for s in flat(mapped.families)}
    assert values["jitsi_conferences"] == big and values["jitsi_future"] == -big
    assert math.isnan(values["jitsi_rtt_aggregate"]) and values["jitsi_bit_rate_upload"] == math.inf
    assert not mapped.problems


def test_array_holding_a_huge_integer_is_dropped():
    mapped = map_payload({"conference_sizes": [1, 10**400]})
    assert mapped.families == [] and [p.key for p in mapped.problems] == ["conference_sizes"]


# Issue 11, item 7: name collisions.
def test_unknown_keys_never_take_our_names():
    payload = {"up": 0, "scrape_duration_seconds": 99, "version_info": 7, "conferences": 2}
    mapped = map_payload(payload)
    assert [s.name for s in flat(mapped.families)] == ["jitsi_conferences"]
    warnings = mapped.warnings("meet1")
    assert len(warnings) == 3
    assert any('key "version_info"' in w and 'key "version"' in w for w in warnings)
    assert any('key "up"' in w and "jitsi_up" in w and "own metric" in w for w in warnings)


def test_unknown_keys_that_give_one_name_keep_one_with_one_warning():
    mapped = map_payload({"a b": 1, "a_b": 2, "a-b": 3})
    assert [(s.name, s.value) for s in flat(mapped.families)] == [("jitsi_a_b", 2)]
    warnings = mapped.warnings("m")
    assert len(warnings) == 2 and all('key "a_b"' in w and "jitsi_a_b" in w for w in warnings)
    # Without a key that is its own name, the smallest key wins, whatever the payload order.
    assert flat(map_payload({"x.y": 2, "x y": 1}).families) == flat(map_payload({"x y": 1, "x.y": 2}).families)
    assert [s.value for s in flat(map_payload({"x.y": 2, "x y": 1}).families)] == [1]


def test_no_series_twice_with_legacy_names_and_unknown_keys():
    payload = {"total_ice_failed": 1, "jitsi_total_ice_failed": 5, "total-ice-failed": 9}
    names = [s.name for s in flat(map_payload(payload, legacy_names=True).families)]
    assert len(names) == len(set(names))


# Bounds on what a bridge can put in a name or a label.
def test_long_unknown_key_and_long_string_are_dropped_with_short_warnings():
    long_key = "k" * 5000
    mapped = map_payload({long_key: 1, "version": "v" * 5000, "threads": 2})
    assert [s.name for s in flat(mapped.families)] == ["jitsi_threads"]
    warnings = mapped.warnings("meet1")
    assert len(warnings) == 2 and all(len(w) < 300 for w in warnings)
    assert "a key of 5000 characters" in warnings[1] and "a string of 5000 characters" in warnings[0]


def test_empty_unknown_key_is_dropped():
    mapped = map_payload({"": 1, "threads": 2})
    assert [s.name for s in flat(mapped.families)] == ["jitsi_threads"]
    assert [p.key for p in mapped.problems] == [""]


def test_control_characters_in_keys_are_escaped_in_warnings():
    mapped = map_payload({"\x1b[31m\n" + "x" * 9000: 10**400})
    (warning,) = mapped.warnings("meet1")
    assert "\x1b" not in warning and "\n" not in warning and len(warning) < 300
