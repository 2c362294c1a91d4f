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
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest

import textformat
from conftest import REPO, child_env, require_tool, running_exporter, serving
from golden import CASES, MASK
from jitsi_metrics.config import bridge_options
from waiting import wait_until

pytestmark = pytest.mark.integration

DOC = REPO / "docs" / "prometheus.md"
DOC_ADDRESS = "localhost:9888"
MEET1_CASE = CASES / "real-jvb2-2.3.168-stable9779-from-designet-zabbix-template"
MEET2_PAYLOAD = {"conferences": 2, "endpoints": 9, "total_participants": 31, "healthy": True, "stress_level": 0.25}
# What the bridges' unlabelled samples must read in Prometheus: meet1's from its golden case
# (tests/cases/, reviewed by hand against the payload), meet2's written from its payload above.
MEET2_EXPECTED = {"jitsi_conferences": 2.0, "jitsi_endpoints": 9.0, "jitsi_total_participants": 31.0,
                  "jitsi_healthy": 1.0, "jitsi_stress_level": 0.25}


def golden_values(case: Path) -> Dict[str, float]:
    """Unlabelled samples of the case's expected.prom (the poll's own two left out)."""
    text = (case / "expected.prom").read_text(encoding="utf-8").replace(f" {MASK}\n", " 0\n")
    return {s.name: s.value for f in textformat.parse(text).values() for s in f.samples
            if not s.labels and s.name not in ("jitsi_up", "jitsi_scrape_duration_seconds")}


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
    with _prometheus(binary, tmp_path_factory) as running:
        yield running


@contextmanager
def _prometheus(binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuple[str, Dict]]:
    with serving((MEET1_CASE / "payload.json").read_bytes()) as meet1, \
            serving(json.dumps(MEET2_PAYLOAD).encode()) as meet2, \
            running_exporter([bridge_options(meet1.url, name="meet1"), bridge_options(meet2.url, name="meet2")],
                             named=True, log=io.StringIO()) as exporter:
        yield from _run_prometheus(binary, tmp_path_factory, "{}:{}".format(*exporter.address))


def _run_prometheus(binary: str, tmp_path_factory: pytest.TempPathFactory, address: str) -> Iterator[Tuple[str, Dict]]:
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

    def ready() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"prometheus exited {proc.returncode}: {(tmp / 'prometheus.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(api + "/-/ready", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    try:
        wait_until(ready, 30, interval=0.2, what="prometheus to become ready")
        yield api, {"meet1": golden_values(MEET1_CASE), "meet2": MEET2_EXPECTED}
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def query(api: str, promql: str, want: int, timeout: float = 20) -> List[Dict]:
    """Instant-query results, waiting until there are at least ``want`` (then as many as there are)."""
    results: List[Dict] = []

    def enough() -> bool:
        nonlocal results
        answer = get_json(api + "/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
        assert answer["status"] == "success", answer
        results = answer["data"]["result"]
        return len(results) >= want

    try:
        wait_until(enough, timeout, interval=0.5, what=f"{want} results of {promql}")
    except AssertionError:
        pass  # the caller's assertions say what is missing
    return results


def test_single_job_scrapes_every_bridge_with_a_bridge_label(prometheus: Tuple[str, Dict]) -> None:
    api, payloads = prometheus
    up = query(api, 'up{job="jitsi"}', 1)
    assert [r["value"][1] for r in up] == ["1"]
    for bridge, expected in payloads.items():
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
    for bridge, expected in payloads.items():
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
