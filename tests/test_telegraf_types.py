"""The typed Telegraf path: inputs.prometheus scraping `jitsi-metrics serve`, in the real Telegraf.

The shipped snippet runs unchanged but for its URL. Telegraf's Prometheus serializer writes
each metric's type as Telegraf holds it, so the output shows whether counters arrived as
counters and gauges as gauges.
"""
from __future__ import annotations

import json
import re
import socket
import subprocess
import urllib.request
from pathlib import Path
from typing import Dict, Iterator

import pytest

from conftest import REPO, child_env, load_json, require_tool
from jitsi_metrics.simulate import BridgeServer
from waiting import wait_until

pytestmark = pytest.mark.integration

SNIPPET = REPO / "telegraf" / "jitsi-prometheus-serve.conf"
PLACEHOLDER = "http://127.0.0.1:9888/metrics"
PAYLOAD = REPO / "tests" / "payloads" / "real" / "jvb2-2.3.168-stable9779-from-designet-zabbix-template.json"
TYPE_LINE = re.compile(r"^# TYPE (\S+) (\S+)$", re.M)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def serve() -> Iterator[str]:
    """`jitsi-metrics serve` in front of a bridge serving the captured 2.3.168 payload."""
    bridge = BridgeServer(payload=PAYLOAD.read_bytes()).start()
    port = free_port()
    proc = subprocess.Popen(["jitsi-metrics", "serve", "--listen", f"127.0.0.1:{port}", "--url", bridge.url],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=child_env())

    def listening() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            return False

    try:
        wait_until(listening, timeout=20, what="jitsi-metrics serve to listen")
        yield f"http://127.0.0.1:{port}/metrics"
    finally:
        proc.terminate()
        proc.wait(10)
        assert proc.stderr is not None
        proc.stderr.close()
        bridge.stop()


def test_serve_sends_no_timestamps(serve: str) -> None:
    # Only `jitsi-metrics telegraf` stamps its batches; a scrape target must not: Prometheus
    # and Telegraf's inputs.prometheus give the scrape its own time.
    with urllib.request.urlopen(serve, timeout=10) as response:
        exposition = response.read().decode()
    samples = [line for line in exposition.splitlines() if line and not line.startswith("#")]
    assert samples
    for line in samples:
        after_name = line.rsplit("}", 1)[1] if "}" in line else line.partition(" ")[2]
        assert len(after_name.split()) == 1, f"more than a value in {line!r}"


def test_snippet_types_arrive_in_telegraf(serve: str, tmp_path: Path) -> None:
    telegraf = require_tool("telegraf")
    out = tmp_path / "out.prom"
    snippet = SNIPPET.read_text(encoding="utf-8")
    assert PLACEHOLDER in snippet
    conf = tmp_path / "telegraf.conf"
    conf.write_text("\n".join([
        "[agent]", "  omit_hostname = true",
        "[[outputs.file]]", f"  files = [{json.dumps(str(out))}]", '  data_format = "prometheus"',
        snippet.replace(PLACEHOLDER, serve),
    ]) + "\n", encoding="utf-8")
    run = subprocess.run([telegraf, "--config", str(conf), "--once"], capture_output=True, text=True,
                         timeout=60, env=child_env())
    assert run.returncode == 0, run.stderr
    text = out.read_text(encoding="utf-8")
    types: Dict[str, str] = dict(TYPE_LINE.findall(text))
    payload = load_json(PAYLOAD)
    # Counters and gauges as the bridge means them (jitsi-stats.md): a running total, a
    # current count, a boolean state.
    assert types["jitsi_total_conferences_created"] == "counter"
    assert types["jitsi_total_ice_failed"] == "counter"
    assert types["jitsi_conferences"] == "gauge"
    assert types["jitsi_participants"] == "gauge"
    assert types["jitsi_up"] == "gauge"
    # Telegraf adds its own url label; the payload has no array, so one series per name.
    values = {m.group(1): float(m.group(2)) for m in re.finditer(r"^(jitsi_\w+)(?:\{[^}]*\})? (\S+)$", text, re.M)}
    assert values["jitsi_total_conferences_created"] == payload["total_conferences_created"]
    assert values["jitsi_conferences"] == payload["conferences"]
    assert values["jitsi_up"] == 1
