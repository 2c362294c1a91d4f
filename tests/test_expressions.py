"""Every dashboard query and every rule expression returns data from real output.

One Debian Prometheus (scrape and rule evaluation every second, with
prometheus/rules/jitsi.rules.yml loaded) scrapes:
- one ``jitsi-metrics serve`` per JVB era, each polling simulated bridges that serve the
  captured /colibri/stats payloads of that era (tests/payloads/real and the 2.3 local build);
  one more bridge serves the 2.3 capture with its counters advancing, as a live bridge's do,
  so that rates and failure ratios have something to divide;
- one ``jitsi-metrics serve`` reading Jicofo's captured /metrics (job jicofo), and one reading
  the bridge's captured /metrics (job jvb-metrics), both through the exporter as a user would
  run it: Jicofo's series under its own jitsi_jicofo_* names, the bridge's conference
  histograms as jitsi_conferences_by_* histograms;
- the /probe job of docs/alerts.md, relabelled for the Go exporter's dashboards.

Then each expression is evaluated through the HTTP API with the dashboard variables set to
"All". Alert expressions are filters (``x > threshold``) that stay empty while all is well, so
they are evaluated with ``bool`` after each comparison: the question here is whether the
metrics, labels and vector matching fit what the exporter serves, not whether an alert fires
(tests/rules/ prove that with promtool).
"""
from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from conftest import PAYLOADS, REPO, SHARED_PAYLOADS, child_env, missing, require_tool
from jitsi_metrics.simulate import BridgeServer
from test_dashboards import DASHBOARDS, queries
from test_rules import RULES_FILE, alerting_rules, recording_rules
from waiting import wait_until

pytestmark = pytest.mark.integration

CAPTURES = PAYLOADS / "jvb-2.3-head-local-build"
ERAS = {
    "jvb1": sorted(SHARED_PAYLOADS.glob("jvb1-*.json")),
    "jvb2-2.1": sorted(SHARED_PAYLOADS.glob("jvb2-2.1.*.json")),
    "jvb2-2.3": sorted(SHARED_PAYLOADS.glob("jvb2-2.3.*.json")),
    "jvb-2.3-head": sorted(CAPTURES.glob("jvb-*.colibri-stats.json")),
}
PROBE_ERA = "jvb2-2.3"  # its two bridges are named meet1 and meet2, the targets of the doc's /probe job
LIVE_PAYLOAD = CAPTURES / "jvb-conference.colibri-stats.json"
# Counters of the live bridge and how much each advances per second.
LIVE_COUNTERS = {"total_ice_failed": 1, "total_ice_succeeded": 3, "dtls_failed_endpoints": 1,
                 "total_conferences_created": 1, "total_participants": 2, "total_packets_received": 500}
JICOFO_METRICS = CAPTURES / "jicofo-idle.metrics.text-plain.txt"
JVB_METRICS = CAPTURES / "jvb-conference.metrics.text-plain.txt"
DOC_ADDRESS = "localhost:9888"
VARIABLES = {"$instance": ".*", "$bridge": ".*", "$job": ".*", "$jicofo": ".*"}

# Expressions allowed to return nothing, each with the reason. Matched as substrings.
NO_DATA_ALLOWED = {
    "jitsi_jicofo_jigasi_iq_handler_": "Jicofo registers its Jigasi counters only once it handles a Jigasi "
                                       "request; the captured Jicofo never did",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get_json(url: str) -> Dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def with_bool(expr: str) -> str:
    """``expr`` with ``bool`` after every comparison outside strings, matchers and ranges,
    so a filter returns 0/1 for every series it compares instead of dropping them."""
    masked = re.sub(r'"(?:[^"\\]|\\.)*"|\{[^}]*\}|\[[^\]]*\]', lambda m: "_" * len(m.group()), expr)
    spots = [m.end() for m in re.finditer(r"==|!=|>=|<=|>|<", masked)
             if not re.match(r"\s*bool\b", masked[m.end():])]
    for spot in reversed(spots):
        expr = expr[:spot] + " bool" + expr[spot:]
    return expr


@pytest.mark.parametrize("expr, want", [
    ("jitsi_up == 0", "jitsi_up == bool 0"),
    ('a{x=~"1|2",y!="z"} >= on () group_left () b', 'a{x=~"1|2",y!="z"} >= bool on () group_left () b'),
    ("a > bool 1", "a > bool 1"),
    ("a / (b > 0) < c", "a / (b > bool 0) < bool c"),
    ('label_replace(x, "k", "v<", "", "") > 0', 'label_replace(x, "k", "v<", "", "") > bool 0'),
], ids=["eq", "matchers", "already", "nested", "string"])
def test_with_bool(expr: str, want: str) -> None:
    assert with_bool(expr) == want


class StaticMetrics:
    """Serves one captured /metrics answer, as the real Jicofo or bridge did."""

    def __init__(self, path: Path) -> None:
        body = path.read_bytes()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def address(self) -> str:
        return "127.0.0.1:{}".format(self.httpd.server_address[1])

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def live_payloads(stop: threading.Event, server: BridgeServer) -> None:
    """Advance the live bridge's counters once a second, from their captured values."""
    payload = json.loads(LIVE_PAYLOAD.read_text(encoding="utf-8"))
    started = time.monotonic()
    while not stop.is_set():
        seconds = int(time.monotonic() - started)
        server.payload = json.dumps({**payload, **{key: payload.get(key, 0) + step * seconds
                                                   for key, step in LIVE_COUNTERS.items()}}).encode()
        stop.wait(0.2)


def doc_block(name: str) -> str:
    text = (REPO / "docs" / "alerts.md").read_text(encoding="utf-8")
    found = re.search(rf"<!-- scrape-config: {name} -->\n```yaml\n(.*?)```", text, re.S)
    assert found, f"docs/alerts.md has no scrape-config block {name!r}"
    return found.group(1)


def jitsi_metrics_command() -> List[str]:
    beside = Path(sys.executable).with_name("jitsi-metrics")
    found = str(beside) if beside.is_file() else shutil.which("jitsi-metrics")
    if found is None:
        missing("the jitsi-metrics command is not installed (pip install -e .)")
    return [str(found)]


def exporter_ready(url: str, proc: "subprocess.Popen[bytes]") -> bool:
    return answers(url) or proc.poll() is not None


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = require_tool("prometheus")
    for era, files in ERAS.items():
        if not files:
            missing(f"no payloads for era {era}")
    tmp = tmp_path_factory.mktemp("expressions")
    bridges: List[BridgeServer] = []
    exporters: List[Tuple[str, subprocess.Popen[bytes]]] = []
    statics = [StaticMetrics(JICOFO_METRICS), StaticMetrics(JVB_METRICS)]
    stop_live = threading.Event()
    logs = []

    def start_exporter(name: str, args: List[str]) -> Tuple[str, "subprocess.Popen[bytes]"]:
        address = f"127.0.0.1:{free_port()}"
        log = open(tmp / f"exporter-{name}.log", "wb")
        logs.append(log)
        proc = subprocess.Popen(jitsi_metrics_command() + ["serve", "--listen", address, *args],
                                stdout=log, stderr=subprocess.STDOUT, env=child_env())
        started.append((address, proc))
        wait_until(partial(exporter_ready, f"http://{address}/health", proc), timeout=30,
                   what=f"the {name} exporter to answer")
        assert proc.poll() is None, (tmp / f"exporter-{name}.log").read_text()
        return address, proc

    started: List[Tuple[str, "subprocess.Popen[bytes]"]] = []
    try:
        for era, files in ERAS.items():
            args = []
            for number, path in enumerate(files, start=1):
                bridge = BridgeServer(payload=path.read_bytes()).start()
                bridges.append(bridge)
                name = f"meet{number}" if era == PROBE_ERA else path.name.split(".json")[0][:40]
                args += ["--url", bridge.url, "--name", name]
            if era == "jvb-2.3-head":
                live = BridgeServer(payload=LIVE_PAYLOAD.read_bytes()).start()
                bridges.append(live)
                threading.Thread(target=live_payloads, args=(stop_live, live), daemon=True).start()
                args += ["--url", live.url, "--name", "live"]
            exporters.append(start_exporter(era, args))
        # Jicofo and a default-config bridge, each read through its /metrics by our exporter.
        jicofo_exporter, jvb_metrics_exporter = (
            start_exporter(job, ["--url", f"http://{static.address}/metrics"])
            for job, static in (("jicofo", statics[0]), ("jvb-metrics", statics[1])))
        probe_exporter = exporters[list(ERAS).index(PROBE_ERA)][0]
        targets = ", ".join(f"'{address}'" for address, _ in exporters)
        config = tmp / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
            f"rule_files: ['{RULES_FILE}']\n"
            "scrape_configs:\n"
            f"  - job_name: jitsi\n    static_configs:\n      - targets: [{targets}]\n"
            f"  - job_name: jicofo\n    static_configs:\n      - targets: ['{jicofo_exporter[0]}']\n"
            f"  - job_name: jvb-metrics\n    static_configs:\n      - targets: ['{jvb_metrics_exporter[0]}']\n"
            + doc_block("probe-go-dashboards").replace(DOC_ADDRESS, probe_exporter),
            encoding="utf-8")
        check = subprocess.run([require_tool("promtool"), "check", "config", str(config)], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=child_env(), check=False)
        assert check.returncode == 0, check.stdout
        port = free_port()
        log = open(tmp / "prometheus.log", "wb")
        logs.append(log)
        proc = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log, stderr=subprocess.STDOUT, env=child_env())
        api = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: answers(api + "/-/ready") or proc.poll() is not None, timeout=30,
                       what="prometheus to be ready")
            assert proc.poll() is None, (tmp / "prometheus.log").read_text()[-2000:]
            # Rates need at least two scrapes of every target, and the rule groups an
            # evaluation after them: wait for three, then for each recording rule's output.
            want_targets = len(exporters) + 2 + 2
            wait_until(lambda: len(instant(api, "count_over_time(up[1m]) >= 3")) == want_targets, timeout=30,
                       what=f"{want_targets} targets scraped three times")
            for rule in recording_rules():
                wait_until(partial(instant, api, rule["record"]), timeout=10,
                           what=f"{rule['record']} to have data")
            yield api
        finally:
            proc.terminate()
            proc.wait(10)
    finally:
        stop_live.set()
        for _, exporter in started:
            exporter.terminate()
            exporter.wait(10)
        for log in logs:
            log.close()
        for static in statics:
            static.stop()
        for bridge in bridges:
            bridge.stop()


def instant(api: str, promql: str) -> List[Dict[str, Any]]:
    answer = get_json(api + "/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
    assert answer["status"] == "success", (promql, answer)
    return answer["data"]["result"]  # type: ignore[no-any-return]


def substitute(expr: str) -> str:
    for variable, value in VARIABLES.items():
        expr = expr.replace(variable, value)
    return re.sub(r"^label_values\((.*),\s*\w+\s*\)$", r"\1", expr.strip(), flags=re.S)


def allowed(expr: str) -> bool:
    return any(part in expr for part in NO_DATA_ALLOWED)


def expressions() -> List[Tuple[str, str]]:
    """(where, PromQL) of every dashboard query, recording rule and alert."""
    found = [(f"{path.name}: {where}", substitute(expr)) for path in DASHBOARDS
             for where, expr in queries(json.loads(path.read_text(encoding="utf-8")))]
    found += [(f"record {rule['record']}", rule["expr"]) for rule in recording_rules()]
    found += [(f"alert {rule['alert']}", with_bool(rule["expr"])) for rule in alerting_rules()]
    return found


def test_every_expression_returns_data(prometheus: str) -> None:
    empty = []
    checked = 0
    for where, expr in expressions():
        if not instant(prometheus, expr) and not allowed(expr):
            empty.append(f"{where}: {expr}")
        checked += 1
    assert checked > 60
    assert not empty, "no data from any era for:\n" + "\n".join(empty)


def test_allowed_exceptions_still_return_nothing(prometheus: str) -> None:
    """An allow-list entry that starts returning data is stale: drop it."""
    for part, reason in NO_DATA_ALLOWED.items():
        matching = [expr for _, expr in expressions() if part in expr]
        assert matching, f"allow-list entry {part!r} matches no expression"
        assert not any(instant(prometheus, expr) for expr in matching), f"{part!r} has data now ({reason})"


def test_every_rule_evaluates_without_error(prometheus: str) -> None:
    groups = get_json(prometheus + "/api/v1/rules")["data"]["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert len(rules) == len(recording_rules()) + len(alerting_rules())
    for rule in rules:
        assert rule["health"] == "ok" and not rule.get("lastError"), (rule["name"], rule.get("lastError"))
    recorded = [rule["name"] for rule in rules if rule["type"] == "recording"]
    quiet = [name for name in recorded if not instant(prometheus, name)]
    assert not quiet, f"recording rules without output: {quiet}"


def test_shard_sums_add_up_what_the_bridges_said(prometheus: str) -> None:
    by_job = {r["metric"]["job"]: float(r["value"][1]) for r in instant(prometheus, "shard:jitsi_conferences:sum")}
    bridges = instant(prometheus, 'jitsi_conferences{job="jitsi"}')
    assert by_job["jitsi"] == sum(float(r["value"][1]) for r in bridges)
    payloads = [json.loads(path.read_text(encoding="utf-8")) for files in ERAS.values() for path in files]
    payloads.append(json.loads(LIVE_PAYLOAD.read_text(encoding="utf-8")))
    assert by_job["jitsi"] == sum(p["conferences"] for p in payloads if isinstance(p.get("conferences"), (int, float)))
    # A bridge without endpoints (2.1, 1.x) is counted by its participants, the others by endpoints.
    expected = sum(p["endpoints"] if "endpoints" in p else p["participants"] for p in payloads
                   if "endpoints" in p or "participants" in p)
    endpoints = {r["metric"]["job"]: float(r["value"][1]) for r in instant(prometheus, "shard:jitsi_endpoints:sum")}
    assert endpoints["jitsi"] == expected


def test_live_bridge_ice_ratio_is_what_its_counters_say(prometheus: str) -> None:
    ratio = instant(prometheus, 'bridge:jitsi_ice_failure_ratio:ratio15m{bridge="live"}')
    # One failure and three successes a second: a quarter of the sessions fail.
    assert ratio and float(ratio[0]["value"][1]) == pytest.approx(0.25, abs=0.05)


def test_probe_relabel_lets_the_go_dashboards_find_each_bridge(prometheus: str) -> None:
    """docs/alerts.md: with the suffix, the Go dashboards' instance regex /(.*):.*/ keeps the
    bridge name, and their queries instance=~"$instance.*" find its metrics."""
    up = instant(prometheus, 'up{job="jitsi-probe"}')
    instances = sorted(r["metric"]["instance"] for r in up)
    assert instances == ["meet1:probe", "meet2:probe"]
    for instance in instances:
        selected = re.fullmatch(r"(.*):.*", instance)
        assert selected
        found = instant(prometheus, f'jitsi_conferences{{instance=~"{selected.group(1)}.*"}}')
        assert [r["metric"]["instance"] for r in found] == [instance]

