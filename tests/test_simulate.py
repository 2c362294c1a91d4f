from __future__ import annotations

import json
import urllib.request

from jitsi_metrics.catalogue import BY_KEY
from jitsi_metrics.samples import COUNTER
from jitsi_metrics.check import schema_errors
from jitsi_metrics.simulate import SimulatedBridge

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
