"""The runtime's client for any URL (source_client.py), against simulated bridges and Jicofo
on 127.0.0.1: base URLs discovered once and again when the endpoint stops answering, the
Accept header /metrics needs, and the line for an answer that is not what was configured."""
from __future__ import annotations

from typing import Iterator

import pytest

from conftest import PAYLOADS, serving
from jitsi_metrics.config import bridge_options
from jitsi_metrics.detect import JICOFO_METRICS, JICOFO_STATS, JVB_COLIBRI, JVB_METRICS
from jitsi_metrics.fetch import FetchError, FetchStatusError
from jitsi_metrics.runtime import Runtime
from jitsi_metrics.source_client import Fetched, FetchNoSource, SourceClient

CAPTURES = PAYLOADS / "jvb-2.3-head-local-build"


@pytest.fixture
def client_of() -> Iterator:  # type: ignore[type-arg]
    clients = []

    def make(url: str) -> SourceClient:
        client = SourceClient(bridge_options(url, name="b", timeout=5))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def test_base_url_of_a_default_config_bridge_is_discovered_once(client_of) -> None:  # type: ignore[no-untyped-def]
    with serving(rest_enabled=False) as server:
        client = client_of(server.base_url)
        first = client.fetch()
        assert isinstance(first, Fetched) and first.source == JVB_METRICS and first.note == ""
        (news,) = client.take_news()
        assert news.startswith(f'Bridge "b": reading {server.base_url}/metrics, JVB /metrics (/colibri/stats: HTTP 404')
        assert "REST API off" in news
        before = server.requests
        client.fetch()
        assert server.requests - before == 1  # one GET of /metrics, no new discovery
        assert client.take_news() == []


def test_base_url_is_discovered_again_when_its_endpoint_stops_answering(client_of) -> None:  # type: ignore[no-untyped-def]
    with serving() as server:
        client = client_of(server.base_url)
        first = client.fetch()
        # REST on: /colibri/stats, with /metrics beside it for what only /metrics has.
        assert isinstance(first, Fetched) and first.source == JVB_COLIBRI and first.extra is not None
        assert "reading " + server.url in client.take_news()[0]
        server.rest_enabled = False  # the bridge restarted with its defaults
        with pytest.raises(FetchStatusError):
            client.fetch()
        second = client.fetch()
        assert isinstance(second, Fetched) and second.source == JVB_METRICS
        assert "reading " + server.base_url + "/metrics" in client.take_news()[0]


def test_a_metrics_url_is_asked_with_a_text_accept_header(client_of) -> None:  # type: ignore[no-untyped-def]
    # The simulated JVB answers 500 to /metrics without Accept, as a real one does.
    with serving(rest_enabled=False) as server:
        fetched = client_of(server.base_url + "/metrics").fetch()
    assert isinstance(fetched, Fetched) and fetched.source == JVB_METRICS
    assert fetched.answer is not None and fetched.answer.body.startswith(b"#")


def test_jicofo_urls(client_of) -> None:  # type: ignore[no-untyped-def]
    with serving(component="jicofo") as server:
        stats = client_of(server.base_url + "/stats").fetch()
        metrics = client_of(server.base_url + "/metrics").fetch()
        base = client_of(server.base_url)
        found = base.fetch()
        news = base.take_news()
    assert isinstance(stats, Fetched) and (stats.source, stats.note) == (JICOFO_STATS, "")
    assert isinstance(metrics, Fetched) and (metrics.source, metrics.note) == (JICOFO_METRICS, "")
    assert isinstance(found, Fetched) and found.source == JICOFO_STATS
    assert "Jicofo /stats" in news[0]


def test_jicofo_stats_at_a_bridge_url_is_read_as_jicofo_with_one_line(client_of) -> None:  # type: ignore[no-untyped-def]
    # What a real Jicofo's /stats said, served where a bridge's /colibri/stats was expected.
    with serving((CAPTURES / "jicofo-idle.stats.json").read_bytes()) as server:
        fetched = client_of(server.url).fetch()
    assert isinstance(fetched, Fetched) and fetched.source == JICOFO_STATS
    assert fetched.note.startswith("expected JVB /colibri/stats, but this is Jicofo /stats")


def test_rtcstats_at_a_jicofo_stats_url_is_no_source(client_of) -> None:  # type: ignore[no-untyped-def]
    with serving(rest_enabled=False) as server:
        with pytest.raises(FetchNoSource, match="rtcstats"):
            client_of(server.base_url + "/stats").fetch()


def test_rest_api_off_on_a_colibri_url_says_so_and_names_metrics(client_of) -> None:  # type: ignore[no-untyped-def]
    with serving(rest_enabled=False) as server:
        with pytest.raises(FetchStatusError) as caught:
            client_of(server.url).fetch()
    assert "REST API off" in str(caught.value) and "/metrics" in str(caught.value)


def test_nothing_listening_at_a_base_url_is_a_connection_failure(client_of) -> None:  # type: ignore[no-untyped-def]
    with serving() as gone:
        url = gone.base_url
    with pytest.raises(FetchError, match="cannot connect"):
        client_of(url).fetch()


def test_runtime_reports_the_discovery_once_as_a_notice() -> None:
    events = []
    with serving(rest_enabled=False) as server, \
            Runtime([bridge_options(server.base_url, name="b")], report=lambda b, e: events.append(e)) as runtime:
        for _ in range(3):
            (result,) = runtime.poll()
            assert result.up
    assert [e.level for e in events] == ["notice"]
    assert "reading " in events[0].message
