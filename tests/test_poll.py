from __future__ import annotations

from jitsi_metrics.config import bridge_options
from jitsi_metrics.fetch import FetchStatusError
from jitsi_metrics.poll import Poller, all_families, bridge_labels
from jitsi_metrics.simulate import BridgeServer


def test_labels_only_for_several_or_named_bridges():
    a, b = bridge_options("http://a:1/x"), bridge_options("http://b:2/x")
    assert bridge_labels([a], named=False) == [()]
    assert bridge_labels([a], named=True) == [(("bridge", "a:1"),)]
    assert bridge_labels([a, b], named=False) == [(("bridge", "a:1"),), (("bridge", "b:2"),)]


def test_poll_results_per_bridge(bridge_server):
    broken = BridgeServer().start()
    broken.fault = "html-500"
    bridges = [bridge_options(bridge_server.url, name="ok"), bridge_options(broken.url, name="broken")]
    try:
        with Poller(bridges) as poller:
            ok, bad = poller.poll()
    finally:
        broken.stop()
    assert ok.up and ok.bridge == "ok" and ok.warnings == []
    assert [f.name for f in ok.families[:2]] == ["jitsi_up", "jitsi_scrape_duration_seconds"]
    assert all(s.labels[0] == ("bridge", "ok") for f in ok.families for s in f.samples)
    assert not bad.up and isinstance(bad.error, FetchStatusError)
    assert (bad.families[0].name, bad.families[0].samples[0].value) == ("jitsi_up", 0)
    merged = all_families([ok, bad])
    assert sum(len(f.samples) for f in merged) == sum(len(f.samples) for f in ok.families) + 2


def test_an_unexpected_error_costs_only_its_bridge(bridge_server):
    bridges = [bridge_options(bridge_server.url, name="ok"), bridge_options(bridge_server.url, name="buggy")]
    with Poller(bridges) as poller:
        def broken(timeout=None):
            raise KeyError("surprise")

        poller.clients[1].fetch = broken
        ok, buggy = poller.poll()
    assert ok.up and not buggy.up
    assert "unexpected KeyError" in str(buggy.error)
