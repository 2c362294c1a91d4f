"""A real Prometheus server scrapes the exporter with the scrape configs of docs/prometheus.md.

Both configs (the /metrics job and the multi-target /probe job with relabelling) are taken
from the doc unchanged except for the exporter's address; the values are read back through
Prometheus' HTTP API and compared with the payloads the simulated bridges serve.
"""
from __future__ import annotations

import io
import json
import re
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest
from conftest import REPO, SHARED_PAYLOADS, child_env, load_json, missing, require_tool

from jitsi_metrics.catalogue import BY_KEY, NUMBER
from jitsi_metrics.config import bridge_options
from jitsi_metrics.exporter import Exporter
from jitsi_metrics.simulate import BridgeServer

pytestmark = pytest.mark.integration

DOC = REPO / "docs" / "prometheus.md"
DOC_ADDRESS = "localhost:9888"
MEET1_PAYLOAD = SHARED_PAYLOADS / "jvb2-2.3.168-stable9779-from-designet-zabbix-template.json"
MEET2_PAYLOAD = {"conferences": 2, "endpoints": 9, "total_participants": 31, "healthy": True, "stress_level": 0.25}


def doc_scrape_config(name: str) -> str:
    """The YAML block after ``<!-- scrape-config: NAME -->`` in docs/prometheus.md."""
    found = re.search(rf"<!-- scrape-config: {name} -->\n```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert found, f"docs/prometheus.md has no scrape-config block {name!r}"
    return found.group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get_json(url: str) -> Dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuple[str, Dict]]:
    binary = require_tool("prometheus")
    if not MEET1_PAYLOAD.is_file():
        missing(f"payload {MEET1_PAYLOAD} is not there")
    meet1 = BridgeServer(payload=MEET1_PAYLOAD.read_bytes()).start()
    meet2 = BridgeServer(payload=json.dumps(MEET2_PAYLOAD).encode()).start()
    exporter = Exporter([bridge_options(meet1.url, name="meet1"), bridge_options(meet2.url, name="meet2")],
                        named=True, log=io.StringIO()).start(0.05)
    address = "{}:{}".format(*exporter.address)
    tmp = tmp_path_factory.mktemp("prometheus")
    config = tmp / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n"
        + doc_scrape_config("single").replace(DOC_ADDRESS, address)
        + doc_scrape_config("probe").replace(DOC_ADDRESS, address),
        encoding="utf-8",
    )
    port = free_port()
    log = open(tmp / "prometheus.log", "wb")
    proc = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT, env=child_env(),
    )
    api = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"prometheus exited {proc.returncode}: {(tmp / 'prometheus.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(api + "/-/ready", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("prometheus did not become ready within 30 s")
            time.sleep(0.2)
        yield api, {"meet1": load_json(MEET1_PAYLOAD), "meet2": MEET2_PAYLOAD}
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
        exporter.stop()
        meet1.stop()
        meet2.stop()


def query(api: str, promql: str, want: int, timeout: float = 20) -> List[Dict]:
    """Instant-query results, waiting until there are at least ``want``."""
    deadline = time.monotonic() + timeout
    while True:
        answer = get_json(api + "/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
        assert answer["status"] == "success", answer
        results = answer["data"]["result"]
        if len(results) >= want or time.monotonic() > deadline:
            return results  # type: ignore[no-any-return]
        time.sleep(0.5)


def numeric_keys(payload: Dict) -> Dict[str, float]:
    return {BY_KEY[k].name: float(v) for k, v in payload.items()
            if k in BY_KEY and BY_KEY[k].kind == NUMBER and isinstance(v, (int, float)) and not isinstance(v, bool)}


def test_single_job_scrapes_every_bridge_with_a_bridge_label(prometheus: Tuple[str, Dict]) -> None:
    api, payloads = prometheus
    up = query(api, 'up{job="jitsi"}', 1)
    assert [r["value"][1] for r in up] == ["1"]
    for bridge, payload in payloads.items():
        expected = numeric_keys(payload)
        assert len(expected) >= 3
        results = query(api, f'{{job="jitsi",bridge="{bridge}",__name__=~"jitsi_.+"}}', len(expected))
        got = {r["metric"]["__name__"]: float(r["value"][1]) for r in results}
        assert got["jitsi_up"] == 1
        for name, value in expected.items():
            assert got[name] == value, (bridge, name)


def test_probe_job_gives_one_target_per_bridge(prometheus: Tuple[str, Dict]) -> None:
    api, payloads = prometheus
    up = query(api, 'up{job="jitsi-probe"}', 2)
    assert sorted((r["metric"]["instance"], r["value"][1]) for r in up) == [("meet1", "1"), ("meet2", "1")]
    for bridge, payload in payloads.items():
        expected = numeric_keys(payload)
        results = query(api, f'{{job="jitsi-probe",instance="{bridge}",__name__=~"jitsi_.+"}}', len(expected))
        got = {r["metric"]["__name__"]: float(r["value"][1]) for r in results}
        assert all("bridge" not in r["metric"] for r in results)
        for name, value in expected.items():
            assert got[name] == value, (bridge, name)
    healthy = query(api, 'jitsi_healthy{job="jitsi-probe",instance="meet2"}', 1)
    assert healthy[0]["value"][1] == "1"


def test_docs_blocks_are_what_the_test_runs() -> None:
    # The substitution above must hit: the doc's address appears in both blocks.
    for name in ("single", "probe"):
        assert DOC_ADDRESS in doc_scrape_config(name)
    assert Path(DOC).is_file()
