from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from jitsi_metrics.catalogue import BY_KEY
from jitsi_metrics.check import schema_errors
from jitsi_metrics.detect import JVB_COLIBRI, JVB_METRICS, Answer, classify
from jitsi_metrics.samples import COUNTER
from jitsi_metrics.simulate import SimulatedBridge
from jitsi_metrics.simulate_sources import jvb_series, render_metrics
from jitsi_metrics.sources import map_answer

COUNTER_KEYS = [k for k, m in BY_KEY.items() if m.type == COUNTER]


def snapshots(seconds_per_step=7, steps=300):
    bridge = SimulatedBridge(seed=3)
    for _ in range(steps):
        bridge.advance(seconds_per_step)
        yield bridge.stats(1_700_000_000.0)


def test_counters_only_grow_and_gauges_stay_consistent():
    previous = None
    moved = set()
    for stats in snapshots():
        assert schema_errors(stats) == []
        assert stats["endpoints"] == stats["participants"] == stats["local_endpoints"] + stats["octo_endpoints"]
        assert stats["largest_conference"] <= stats["endpoints"]
        assert stats["p2p_conferences"] <= stats["inactive_conferences"] <= stats["conferences"]
        assert stats["endpoints_sending_video"] <= stats["endpoints_sending_audio"] <= stats["local_endpoints"]
        assert stats["total_conferences_created"] == stats["total_conferences_completed"] + stats["conferences"]
        assert stats["total_participants"] >= stats["endpoints"]
        if previous is not None:
            for key in COUNTER_KEYS:
                if key in stats:
                    assert stats[key] >= previous[key], key
                    if stats[key] != previous[key]:
                        moved.add(key)
            for key in ("conferences", "endpoints", "bit_rate_download"):
                if stats[key] != previous[key]:
                    moved.add(key)
        previous = stats
    # The model is alive: conferences come and go, traffic flows.
    assert {"conferences", "endpoints", "bit_rate_download", "total_conferences_completed",
            "total_bytes_received", "total_conference_seconds"} <= moved


def test_every_key_is_known_to_the_catalogue():
    stats = SimulatedBridge().stats()
    assert set(stats) <= set(BY_KEY)


def test_same_seed_same_bridge():
    assert SimulatedBridge(seed=9).stats(0) == SimulatedBridge(seed=9).stats(0)


def test_server_serves_json(bridge_server):
    with urllib.request.urlopen(bridge_server.url, timeout=5) as response:
        assert response.headers["Content-Type"] == "application/json"
        assert json.loads(response.read())["healthy"] is True


# --- every source of the simulated bridge and Jicofo ---------------------------------


# /colibri/stats keys that JVB's /metrics has no series for.
ONLY_IN_COLIBRI = {"jitsi_version_info", "jitsi_average_participant_stress"}


def _get(url, accept=None):
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


@pytest.mark.parametrize("accept,ctype", [
    ("application/openmetrics-text; version=1.0.0", "application/openmetrics-text"),
    ("text/plain; version=0.0.4", "text/plain"),
    ("application/json", "application/json"),
    ("*/*", "application/openmetrics-text"),
])
def test_metrics_answers_by_accept_header(server_of, accept, ctype):
    status, got, body = _get(server_of().base_url + "/metrics", accept)
    assert status == 200 and got.startswith(ctype)
    assert classify("/metrics", Answer(status, got, body)).source == JVB_METRICS


def test_metrics_without_accept_is_a_500_like_the_real_bridge(server_of):
    status, ctype, _ = _get(server_of().base_url + "/metrics")
    assert status == 500 and ctype.startswith("text/html")


def test_about_version_and_rtcstats(server_of):
    server = server_of()
    assert json.loads(_get(server.base_url + "/about/version")[2])["name"] == "JVB"
    assert json.loads(_get(server.base_url + "/stats")[2]) == {"conferences": {}}


def test_rest_disabled_is_a_404_on_colibri_stats_only(server_of):
    server = server_of(rest_enabled=False)
    assert _get(server.url)[0] == 404
    assert _get(server.base_url + "/metrics", "text/plain")[0] == 200


def test_default_config_bridge_gives_the_same_metric_names_as_with_rest_on(server_of):
    on, off = server_of(), server_of(rest_enabled=False)
    colibri = map_answer(JVB_COLIBRI, Answer(200, "application/json", _get(on.url)[2])).samples
    body = _get(off.base_url + "/metrics", "text/plain")[2]
    metrics = map_answer(JVB_METRICS, Answer(200, "text/plain", body)).samples
    assert {s.name for s in colibri} - {s.name for s in metrics} == ONLY_IN_COLIBRI
    assert {"jitsi_conferences_by_size_bucket", "jitsi_conferences_by_size_count"} <= {s.name for s in metrics}


@pytest.mark.parametrize("ctype", ["text/plain; version=0.0.4; charset=utf-8",
                                   "application/openmetrics-text; version=1.0.0; charset=utf-8", "application/json"])
def test_one_model_moment_gives_equal_values_through_both_sources(ctype):
    bridge = SimulatedBridge(seed=5)
    bridge.advance(600)
    stats = bridge.stats(1_700_000_000.0)
    body = render_metrics(jvb_series(stats, *bridge.shapes()), "jitsi_jvb_", ctype)
    colibri = {(s.name, s.labels): s.value for s in
               map_answer(JVB_COLIBRI, Answer(200, "application/json", json.dumps(stats).encode())).samples}
    metrics = {(s.name, s.labels): s.value for s in map_answer(JVB_METRICS, Answer(200, ctype, body)).samples}
    shared = set(colibri) & set(metrics)
    assert len(shared) > 70
    assert {k: colibri[k] for k in shared} == {k: metrics[k] for k in shared}
    assert metrics[("jitsi_conferences_by_size_count", ())] == stats["conferences"]


def test_simulated_jicofo_serves_stats_metrics_and_version(server_of):
    jicofo = server_of(component="jicofo")
    assert jicofo.url.endswith("/stats")
    stats = _get(jicofo.url)[2]
    assert classify("/stats", Answer(200, "application/json", stats)).source == "jicofo-stats"
    status, ctype, body = _get(jicofo.base_url + "/metrics", "text/plain")
    assert status == 200 and b"jitsi_jicofo_conferences " in body
    assert json.loads(_get(jicofo.base_url + "/about/version")[2])["name"] == "JiCoFo"


def test_faults_still_apply_to_colibri_stats_and_not_to_metrics(server_of):
    server = server_of()
    server.fault = "html-500"
    assert _get(server.url)[0] == 500
    assert _get(server.base_url + "/metrics", "text/plain")[0] == 200
