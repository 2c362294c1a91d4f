"""probe.py: asking a real (simulated) component over loopback what it serves."""
from __future__ import annotations

import socket

import pytest

from jitsi_metrics.config import bridge_options
from jitsi_metrics.detect import JICOFO_STATS, JVB_COLIBRI, JVB_METRICS
from jitsi_metrics.probe import REFUSED, ProbeError, discover, get


def options(url, **kwargs):
    return bridge_options(url, name="meet1", **kwargs)


def test_base_url_of_a_default_config_bridge_picks_metrics_and_says_why(server_of):
    server = server_of(rest_enabled=False)
    found = discover(server.base_url, options(server.base_url))
    assert found.component.is_jvb
    assert found.chosen.path == "/metrics" and found.chosen.verdict.source == JVB_METRICS
    line = found.summary("meet1")
    assert line.startswith(f'Bridge "meet1": reading {server.base_url}/metrics, JVB /metrics')
    assert "REST API off" in line and "\n" not in line


def test_base_url_with_rest_on_stops_at_colibri_stats(server_of):
    server = server_of()
    found = discover(server.base_url + "/", options(server.base_url))
    assert found.chosen.verdict.source == JVB_COLIBRI
    assert [p.path for p in found.probed] == ["/colibri/stats"]


def test_base_url_of_jicofo(server_of):
    server = server_of(component="jicofo")
    found = discover(server.base_url, options(server.base_url))
    assert found.component.is_jicofo and found.chosen.verdict.source == JICOFO_STATS


def test_full_url_asks_only_that_path(server_of):
    server = server_of(rest_enabled=False)
    found = discover(server.url, options(server.url))
    assert found.chosen is None and [p.path for p in found.probed] == ["/colibri/stats"]
    assert "REST API off" in found.summary("meet1")


def test_metrics_is_asked_with_an_accept_header(server_of):
    server = server_of()
    answer = get(server.base_url + "/metrics", options(server.url))
    assert answer.status == 200 and answer.content_type.startswith("text/plain")
    assert server.last_headers["Accept"].startswith("text/plain")


def test_body_is_bounded(server_of):
    server = server_of()
    with pytest.raises(ProbeError, match="larger than 100 bytes"):
        get(server.url, options(server.url, max_bytes=100))


def test_nothing_listening():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with pytest.raises(ProbeError) as caught:
        discover(url, options(url, timeout=2))
    assert caught.value.kind == REFUSED
