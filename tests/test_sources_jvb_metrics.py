"""JVB /metrics mapped onto the /colibri/stats catalogue names (jvb_metrics_map.py)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from jitsi_metrics.catalogue import BY_KEY, COLIBRI_METRICS
from jitsi_metrics.catalogue_jvb_metrics import EQUIVALENTS, METRICS_ONLY, NAMESPACES
from jitsi_metrics.exposition import from_json, parse_text
from jitsi_metrics.jvb_metrics_map import map_jvb_metrics, supplement
from jitsi_metrics.mapping import map_payload
from jitsi_metrics.render import render
from jitsi_metrics.source_result import as_output, points

CAPTURES = Path(__file__).resolve().parent / "payloads" / "jvb-2.3-head-local-build"
# /colibri/stats keys /metrics has no series for (jitsi-stats.md §6.2).
NOT_IN_METRICS = {"jitsi_version_info", "jitsi_average_participant_stress", "jitsi_release_info", "jitsi_relay_id_info"}


def by_name(samples):
    return {(s.name, s.labels): s.value for s in samples}


CAPTURE_FORMS = sorted(
    (path.name.split(".")[0], path) for path in CAPTURES.glob("jvb-*.metrics.*")
    if path.suffix in (".txt", ".json") and "no-accept" not in path.name
)


@pytest.mark.parametrize("capture,path", CAPTURE_FORMS, ids=[p.name for _, p in CAPTURE_FORMS])
def test_same_bridge_same_numbers_through_either_source(capture, path):
    """What a default-config bridge's /metrics gives equals its /colibri/stats, name for
    name, value for value and (for Influx) int for int."""
    payload = json.loads((CAPTURES / f"{capture}.colibri-stats.json").read_text())
    colibri = by_name(points(map_payload(payload).families))
    if path.suffix == ".json":
        expo = from_json(json.loads(path.read_text()))
    else:
        expo = parse_text(path.read_text(), NAMESPACES)
    metrics = by_name(map_jvb_metrics(expo).samples)
    missing = {name for name, _ in colibri} - {name for name, _ in metrics}
    assert missing <= NOT_IN_METRICS
    for key, value in colibri.items():
        if key in metrics:
            assert metrics[key] == value and type(metrics[key]) is type(value), key


@pytest.mark.parametrize("name,line,metric,expected", [
    ("bps to kbps, truncated as JVB does", "jitsi_jvb_incoming_bitrate 1284955.0", "jitsi_bit_rate_download", 1284),
    ("upload too", "jitsi_jvb_outgoing_bitrate 999.0", "jitsi_bit_rate_upload", 0),
    ("relay bitrate stays bps", "jitsi_jvb_relay_incoming_bitrate 5000.0", "jitsi_octo_receive_bitrate", 5000),
    ("whole numbers become integers", "jitsi_jvb_conferences 3.0", "jitsi_conferences", 3),
    ("doubles stay doubles", "jitsi_jvb_stress 1.0", "jitsi_stress_level", 1.0),
    ("misnamed mucs_connected is the configured count", "jitsi_jvb_mucs_connected 2.0", "jitsi_mucs_configured", 2),
    ("counter with _total", "jitsi_jvb_conferences_created_total 7.0", "jitsi_total_conferences_created", 7),
    ("boolean", "jitsi_jvb_drain_mode 1.0", "jitsi_drain", 1),
    ("stable-7648 to 8319 namespace", "jitsi_conferences 4.0", "jitsi_conferences", 4),
])
def test_unit_and_name_conversions(name, line, metric, expected):
    samples = map_jvb_metrics(parse_text(line + "\n", NAMESPACES)).samples
    got = [s for s in samples if s.name == metric]
    assert len(got) == 1, name
    assert got[0].value == expected and type(got[0].value) is type(expected), name


def test_counter_json_before_total_suffix_is_still_found():
    samples = map_jvb_metrics(from_json({"conferences_created": 5})).samples
    assert [(s.name, s.value) for s in samples] == [("jitsi_total_conferences_created", 5)]


def test_region_becomes_the_catalogue_info_metric():
    samples = map_jvb_metrics(parse_text('jitsi_jvb_region_info{region="eu 1"} 1.0\n', NAMESPACES)).samples
    assert [(s.name, s.labels, s.value) for s in samples] == [("jitsi_region_info", (("region", "eu 1"),), 1)]


def test_unknown_series_are_exported_untyped_not_dropped():
    samples = map_jvb_metrics(parse_text("# TYPE jitsi_jvb_new_thing gauge\njitsi_jvb_new_thing 2.5\n",
                                         NAMESPACES)).samples
    assert [(s.name, s.type, s.value) for s in samples] == [("jitsi_new_thing", "untyped", 2.5)]


def test_every_series_of_the_head_capture_is_catalogued():
    expo = parse_text((CAPTURES / "jvb-optional-keys.metrics.openmetrics.txt").read_text(), NAMESPACES)
    assert [s.name for s in map_jvb_metrics(expo).samples if s.type == "untyped"] == []


def test_counters_are_counters_and_end_in_total():
    for metric in METRICS_ONLY:
        if metric.type == "counter":
            assert metric.name.endswith("_total"), metric.name
    assert {e.key for e in EQUIVALENTS} <= set(BY_KEY)


def test_empty_answer_warns_once():
    mapped = map_jvb_metrics(parse_text(""))
    assert mapped.samples == [] and len(mapped.warnings("meet1")) == 1
    assert mapped.warnings("meet1")[0].startswith('Bridge "meet1": ')


def test_older_bridge_keeps_everything_colibri_stats_gives():
    """stable-7648…9364: /metrics is a small subset; /colibri/stats stays the authority and
    /metrics only adds what it lacks."""
    payload = {"conferences": 2, "conference_sizes": [0, 0, 2], "bit_rate_download": 1284.955}
    colibri = points(map_payload(payload).families)
    old_metrics = map_jvb_metrics(parse_text(
        "jitsi_conferences 1.0\njitsi_conferences_created_total 9.0\n", NAMESPACES)).samples
    merged = by_name(supplement(colibri, old_metrics))
    assert merged[("jitsi_conferences", ())] == 2
    assert merged[("jitsi_bit_rate_download", ())] == 1284.955
    assert merged[("jitsi_conference_sizes", (("conference_size", "2"),))] == 2
    assert merged[("jitsi_total_conferences_created", ())] == 9


def test_histograms_of_two_bridges_render_as_one_family_each():
    text = (CAPTURES / "jvb-conference.metrics.openmetrics.txt").read_text()
    samples = []
    for bridge in ("a", "b"):
        samples += map_jvb_metrics(parse_text(text, NAMESPACES), (("bridge", bridge),)).samples
    rendered = render(as_output(samples), "prometheus")
    families = {f.name: f for f in text_string_to_metric_families(rendered)}
    size = families["jitsi_conferences_by_size"]
    assert size.type == "histogram"
    counts = [s for s in size.samples if s.name.endswith("_count")]
    assert sorted(s.labels["bridge"] for s in counts) == ["a", "b"]
    assert rendered.count("# TYPE jitsi_conferences_by_size histogram") == 1


def test_histogram_in_line_protocol_is_one_field_per_bucket():
    text = (CAPTURES / "jvb-conference.metrics.openmetrics.txt").read_text()
    influx = render(map_jvb_metrics(parse_text(text, NAMESPACES)).families, "influx")
    line = next(line for line in influx.splitlines() if line.startswith("jitsi,le=2.0 "))
    assert "conferences_by_size_bucket=1i" in line.split(" ")[1].split(",")
    assert "conferences_by_size_count=1i" in influx and "conferences_by_size_sum=2.0" in influx


def test_catalogue_order_is_kept():
    order = {m.name: i for i, m in enumerate(COLIBRI_METRICS)}
    expo = parse_text((CAPTURES / "jvb-idle.metrics.openmetrics.txt").read_text(), NAMESPACES)
    names = [s.name for s in map_jvb_metrics(expo).samples if s.name in order]
    assert names == sorted(names, key=order.__getitem__)


def test_a_component_label_never_repeats_ours():
    expo = parse_text('jitsi_jvb_new_thing{bridge="x",le="1"} 2.0\n', NAMESPACES)
    (sample,) = map_jvb_metrics(expo, (("bridge", "meet1"),)).samples
    assert sample.labels == (("bridge", "meet1"), ("exported_bridge", "x"), ("exported_le", "1"))
    text_string_to_metric_families(render(as_output([sample]), "prometheus"))  # valid exposition


def test_label_names_with_a_colon_are_refused():
    from jitsi_metrics.exposition import ExpositionError

    with pytest.raises(ExpositionError):
        parse_text('x{a:b="1"} 2\n')
