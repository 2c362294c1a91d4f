from __future__ import annotations

import re

import pytest

from conftest import load_json
from jitsi_metrics.catalogue import (
    ARRAY,
    BOOL,
    BY_KEY,
    COLIBRI_METRICS,
    IGNORE,
    META_METRICS,
    NUMBER,
    STRING,
    metric_for,
    unknown_metric_name,
)
from jitsi_metrics.samples import COUNTER, GAUGE
from payload_cases import all_payload_files, case_id

NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")

# jitsi-stats.md §0.8: monotonic keys that do not start with total_.
COUNTERS_WITHOUT_TOTAL_PREFIX = {
    "dtls_failed_endpoints", "dtls_failed_relays", "endpoints_ice_failed", "relays_ice_failed",
    "endpoints_disconnected", "endpoints_reconnected", "endpoints_with_spurious_remb",
    "num_eps_no_msg_transport_after_delay", "num_relays_no_msg_transport_after_delay",
    "preemptive_kfr_sent", "preemptive_kfr_suppressed",
}
NEWEST_KEYS = {"endpoints_ice_failed", "relays_ice_failed", "dtls_failed_relays", "tcc_unmatched_feedback"}


@pytest.mark.parametrize("metric", COLIBRI_METRICS, ids=lambda m: m.key)
def test_counter_rule(metric):
    if metric.kind != NUMBER:
        assert metric.type == GAUGE
        return
    # total_memory (JVB 1.x) is the host's memory size, a gauge despite its prefix.
    monotonic = (metric.key.startswith("total_") and metric.key != "total_memory") or (
        metric.key in COUNTERS_WITHOUT_TOTAL_PREFIX
    )
    assert metric.type == (COUNTER if monotonic else GAUGE)


@pytest.mark.parametrize("metric", COLIBRI_METRICS + META_METRICS, ids=lambda m: m.name)
def test_names_and_help(metric):
    assert NAME.match(metric.name)
    assert metric.help and metric.help[0].isupper()
    if metric.kind in (NUMBER, ARRAY, BOOL) and metric.kind != IGNORE:
        assert metric.unit, f"{metric.name} has no unit"
        assert f"({metric.unit})" in metric.help_text


def test_names_are_unique_and_follow_the_go_exporter():
    names = [m.name for m in COLIBRI_METRICS + META_METRICS if m.kind != IGNORE]
    assert len(names) == len(set(names))
    for metric in COLIBRI_METRICS:
        if metric.kind in (NUMBER, BOOL, ARRAY):
            assert metric.name == "jitsi_" + metric.key
        if metric.kind == STRING:
            assert metric.name == f"jitsi_{metric.key}_info" and metric.label == metric.key


def test_newest_keys_are_counted_right():
    assert NEWEST_KEYS <= set(BY_KEY)
    assert metric_for("tcc_unmatched_feedback").type == GAUGE  # a sum over current endpoints: can drop
    assert all(metric_for(k).type == COUNTER for k in NEWEST_KEYS - {"tcc_unmatched_feedback"})


def test_array_labels_match_the_go_exporter():
    assert metric_for("conference_sizes").label == "conference_size"
    assert metric_for("conferences_by_audio_senders").label == "senders"
    assert metric_for("conferences_by_video_senders").label == "senders"


# Jicofo's /stats is another product: only the keys it shares with JVB are mapped.
@pytest.mark.parametrize("path", [p for p in all_payload_files() if "jicofo" not in p.name], ids=case_id)
def test_every_jvb_key_is_in_the_catalogue(path):
    payload = load_json(path)
    assert set(payload) - set(BY_KEY) == set()


@pytest.mark.parametrize(
    "key, name",
    [("future_stat", "jitsi_future_stat"), ("odd-key.name", "jitsi_odd_key_name"), ("ünï", "jitsi__n_")],
)
def test_unknown_names_are_sanitised(key, name):
    assert unknown_metric_name(key) == name
