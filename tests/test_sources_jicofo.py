"""Jicofo /stats and /metrics as sources (jicofo_map.py, catalogue_jicofo.py, jicofo_schema.py)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from jitsi_metrics.catalogue_jicofo import NAMESPACES
from jitsi_metrics.exposition import from_json, parse_text
from jitsi_metrics.jicofo_map import map_jicofo_metrics, map_jicofo_stats
from jitsi_metrics.jicofo_schema import SCHEMA_FILE, build_jicofo_schema, jicofo_schema_errors, render_schema

PAYLOADS = Path(__file__).resolve().parent / "payloads"
LOCAL = PAYLOADS / "jvb-2.3-head-local-build"
ERAS = sorted(PAYLOADS.glob("real/jicofo-*.json")) + [LOCAL / "jicofo-idle.stats.json"]
SHIPPED = Path(__file__).resolve().parent.parent / "plugins" / "jitsi_metrics" / "schema" / SCHEMA_FILE


def values(samples):
    return {(s.name, s.labels): s.value for s in samples}


def test_names_are_exactly_jicofos_own():
    """Every family Jicofo's /metrics serves comes out under its own name."""
    text = (LOCAL / "jicofo-idle.metrics.text-plain.txt").read_text()
    theirs = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    theirs = {n for n in theirs if not n.endswith("_created")}
    ours = {s.name for s in map_jicofo_metrics(parse_text(text, NAMESPACES)).samples}
    assert theirs == ours


@pytest.mark.parametrize("path", ERAS, ids=[p.name for p in ERAS])
def test_every_era_maps_without_problems_and_passes_the_schema(path):
    payload = json.loads(path.read_text())
    mapped = map_jicofo_stats(payload)
    assert mapped.problems == [] and mapped.notes == []
    assert jicofo_schema_errors(payload) == []
    names = {s.name for s in mapped.samples}
    assert {"jitsi_jicofo_conferences", "jitsi_jicofo_participants_current", "jitsi_jicofo_largest_conference",
            "jitsi_jicofo_conferences_created_total"} <= names
    assert all(s.name.startswith("jitsi_jicofo_") for s in mapped.samples)


def test_stats_and_metrics_of_one_jicofo_agree():
    stats = values(map_jicofo_stats(json.loads((LOCAL / "jicofo-idle.stats.json").read_text())).samples)
    metrics = values(map_jicofo_metrics(from_json(json.loads((LOCAL / "jicofo-idle.metrics.json").read_text())))
                     .samples)
    shared = set(stats) & set(metrics)
    assert len(shared) >= 25
    assert all(stats[k] == metrics[k] for k in shared)


def test_2022_era_details():
    mapped = values(map_jicofo_stats(json.loads(
        (PAYLOADS / "real/jicofo-1.0-mid2022-from-prayagsingh-jicofo-exporter-test.json").read_text())).samples)
    assert mapped[("jitsi_jicofo_jibri_instances", ())] == 3
    assert mapped[("jitsi_jicofo_bridge_selector_lost_bridges_total", ())] == 6
    assert mapped[("jitsi_jicofo_bridge_selector_split_due_to_load_total", ())] == 5
    assert mapped[("jitsi_jicofo_jingle_session_initiate_sent_total", ())] == 15
    assert mapped[("jitsi_jicofo_jingle_transport_info_received_total", ())] == 15
    assert mapped[("jitsi_jicofo_healthy", ())] == 1
    assert mapped[("jitsi_jicofo_conference_size_buckets", (("bucket", "0_to_1"),))] == 0
    # p99/p999 are estimates, not counts of conferences
    assert ("jitsi_jicofo_conference_size_buckets", (("bucket", "p99_upper_bound"),)) not in mapped


def test_2020_era_array_and_root_level_jibri_failures():
    mapped = values(map_jicofo_stats(json.loads(
        (PAYLOADS / "real/jicofo-2020-04-from-systemli-pr-1.json").read_text())).samples)
    assert mapped[("jitsi_jicofo_conference_sizes", (("conference_size", "1"),))] == 1
    assert mapped[("jitsi_jicofo_jibri_sip_failures_total", ())] == 0
    assert mapped[("jitsi_jicofo_participants_total", ())] == 1337


def test_wrong_type_drops_that_value_only_with_a_line_naming_it():
    mapped = map_jicofo_stats({"conferences": "3", "participants": 4, "bridge_selector": {"bridge_count": None}})
    assert values(mapped.samples) == {("jitsi_jicofo_participants_current", ()): 4}
    assert mapped.warnings("jicofo1") == [
        'Bridge "jicofo1": key "conferences" expected a number, got the string \'3\'; field skipped',
        'Bridge "jicofo1": key "bridge_selector.bridge_count" expected a number, got null; field skipped',
    ]


def test_jingle_action_names_from_the_network_are_bounded_and_clean():
    mapped = map_jicofo_stats({"jingle": {"sent": {'evil" name\n' + "x" * 100: 1}}})
    (sample,) = mapped.samples
    assert sample.name.startswith("jitsi_jicofo_jingle_evil__name_")
    assert len(sample.name) < 100 and all(c.isalnum() or c == "_" for c in sample.name)


def test_nan_average_is_not_a_sample_and_not_a_problem():
    mapped = map_jicofo_stats({"conference_sizes": {"average": "NaN", "buckets": {"0_to_1": 0}}})
    assert mapped.problems == []
    assert [s.name for s in mapped.samples] == ["jitsi_jicofo_conference_size_buckets"]


def test_shipped_schema_is_generated_from_the_catalogue():
    assert SHIPPED.read_text() == render_schema(build_jicofo_schema())


def test_schema_rejects_wrong_types():
    errors = jicofo_schema_errors({"conferences": "x", "jibri_detector": {"count": True}})
    assert [e.split(":")[0] for e in errors] == ["/conferences", "/jibri_detector/count"]


def test_generated_metrics_section_lists_every_source_metric():
    from jitsi_metrics.catalogue_jicofo import JICOFO_METRICS
    from jitsi_metrics.catalogue_jvb_metrics import EQUIVALENTS, METRICS_ONLY
    from jitsi_metrics.gen_docs_sources import generated_source_files, metric_sources, render_sources_metrics_section

    text = render_sources_metrics_section()
    for name in [m.name for m in METRICS_ONLY] + [m.name for m in JICOFO_METRICS] + [e.exposed for e in EQUIVALENTS]:
        assert f"`{name}" in text, name
    assert metric_sources("bit_rate_download") == "/colibri/stats, /metrics (`incoming_bitrate` ÷ 1000)"
    assert metric_sources("version") == "/colibri/stats"
    assert list(generated_source_files().values()) == [SHIPPED.read_text()]


def test_per_bridge_series_keep_their_jvb_label():
    text = ('# TYPE jitsi_jicofo_bridge_endpoints gauge\njitsi_jicofo_bridge_endpoints{jvb="jvb-1"} 4.0\n'
            '# TYPE jitsi_jicofo_bridge_failing_ice gauge\njitsi_jicofo_bridge_failing_ice{jvb="jvb-1"} 0.0\n')
    samples = map_jicofo_metrics(parse_text(text, NAMESPACES), (("bridge", "jicofo1"),)).samples
    assert [(s.name, s.labels, s.value, s.type) for s in samples] == [
        ("jitsi_jicofo_bridge_endpoints", (("bridge", "jicofo1"), ("jvb", "jvb-1")), 4, "gauge"),
        ("jitsi_jicofo_bridge_failing_ice", (("bridge", "jicofo1"), ("jvb", "jvb-1")), 0, "gauge"),
    ]
