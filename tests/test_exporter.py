"""The exporter over real HTTP: routes, status codes, /probe limits, timeouts, single-flight,
logging, SIGTERM and the drop-in's Go-style flags."""
from __future__ import annotations

import base64
import http.client
import io
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from typing import Dict, Iterator, List, Optional, Tuple

import pytest

from conftest import child_env
from jitsi_metrics import __version__
from jitsi_metrics.bridge_args import probe_allowed
from jitsi_metrics.cli import build_parser
from jitsi_metrics.config import bridge_options
from jitsi_metrics.exporter import TIMEOUT_HEADER, Exporter
from jitsi_metrics.exporter_cli import drop_in_parser
from jitsi_metrics.logtext import MAX_LINE
from jitsi_metrics.render.prometheus import CONTENT_TYPE
from jitsi_metrics.simulate import BridgeServer
from waiting import wait_until

Reply = Tuple[int, Dict[str, str], str]


def request(exporter: Exporter, path: str, method: str = "GET", headers: Optional[Dict[str, str]] = None) -> Reply:
    host, port = exporter.address
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        body = response.read().decode("utf-8")
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


def values(text: str) -> Dict[str, float]:
    """sample name with labels -> value, from text format."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


@pytest.fixture
def exporter(bridge_server: BridgeServer) -> Iterator[Exporter]:
    with Exporter([bridge_options(bridge_server.url, timeout=2)], log=io.StringIO()) as server:
        yield server


def test_metrics_polls_the_bridge_at_scrape_time(exporter: Exporter, bridge_server: BridgeServer) -> None:
    before = bridge_server.requests
    status, headers, body = request(exporter, "/metrics")
    assert status == 200
    assert headers["content-type"] == CONTENT_TYPE == "text/plain; version=0.0.4; charset=utf-8"
    assert bridge_server.requests == before + 1
    got = values(body)
    assert got["jitsi_up"] == 1
    # Values come from the bridge: compare with what it serves now (a fixed payload).
    assert 'bridge="' not in body  # one unnamed bridge: no label, like the Go exporter


def test_metrics_values_match_a_fixed_payload(exporter: Exporter, bridge_server: BridgeServer) -> None:
    bridge_server.payload = b'{"conferences": 7, "bit_rate_download": 1.5, "healthy": true, "region": "eu"}'
    got = values(request(exporter, "/metrics")[2])
    assert got["jitsi_conferences"] == 7
    assert got["jitsi_bit_rate_download"] == 1.5
    assert got["jitsi_healthy"] == 1
    assert got['jitsi_region_info{region="eu"}'] == 1


@pytest.mark.parametrize("fault", ["html-500", "not-json", "json-array", "close"])
def test_failing_bridge_gives_up_0_in_http_200(exporter: Exporter, bridge_server: BridgeServer, fault: str) -> None:
    bridge_server.fault = fault
    status, _, body = request(exporter, "/metrics")
    assert status == 200
    got = values(body)
    assert got["jitsi_up"] == 0
    assert "jitsi_conferences" not in got


def test_health_answers_ok_without_touching_the_bridge(exporter: Exporter, bridge_server: BridgeServer) -> None:
    bridge_server.fault = "hang"
    before = bridge_server.requests
    status, headers, body = request(exporter, "/health")
    assert (status, body) == (200, "ok")
    assert headers["content-type"].startswith("text/plain")
    assert bridge_server.requests == before


def test_landing_page_links_the_endpoints(exporter: Exporter) -> None:
    status, headers, body = request(exporter, "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert 'href="/metrics"' in body and 'href="/health"' in body and "/probe?target=" in body


@pytest.mark.parametrize("path", ["/nope", "/metrics/", "/favicon.ico", "/probe/x"])
def test_unknown_paths_are_404(exporter: Exporter, path: str) -> None:
    status, _, body = request(exporter, path)
    assert status == 404
    assert "/metrics" in body


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_only_get_and_head(exporter: Exporter, bridge_server: BridgeServer, method: str) -> None:
    before = bridge_server.requests
    status, headers, _ = request(exporter, "/metrics", method=method)
    assert status == 405
    assert headers["allow"] == "GET, HEAD"
    assert bridge_server.requests == before


def test_head_sends_headers_only(exporter: Exporter) -> None:
    status, headers, body = request(exporter, "/metrics", method="HEAD")
    assert status == 200 and body == ""
    assert int(headers["content-length"]) > 100


def test_keep_alive_serves_several_scrapes_on_one_connection(exporter: Exporter) -> None:
    conn = http.client.HTTPConnection(*exporter.address, timeout=10)
    try:
        for _ in range(3):
            conn.request("GET", "/metrics")
            response = conn.getresponse()
            assert response.status == 200
            assert response.getheader("Connection") != "close"
            response.read()
        first_sock = conn.sock
        conn.request("GET", "/health")
        conn.getresponse().read()
        assert conn.sock is first_sock
    finally:
        conn.close()


# --- /probe -----------------------------------------------------------------------------

@pytest.fixture
def probing(bridge_server: BridgeServer) -> Iterator[Tuple[Exporter, BridgeServer]]:
    with BridgeServer(payload=b'{"conferences": 42}') as other, Exporter(
        [bridge_options(bridge_server.url, name="meet1", timeout=2)], named=True,
        probe_only=[bridge_options(other.url, timeout=2)], log=io.StringIO(),
    ) as server:
        yield server, other


def test_probe_by_configured_name_is_unlabelled(
        probing: Tuple[Exporter, BridgeServer], bridge_server: BridgeServer,
) -> None:
    exporter, _ = probing
    bridge_server.payload = b'{"conferences": 5}'
    status, headers, body = request(exporter, "/probe?target=meet1")
    assert status == 200 and headers["content-type"] == CONTENT_TYPE
    assert values(body)["jitsi_conferences"] == 5
    assert "bridge=" not in body  # Prometheus sets instance from the target by relabelling
    assert 'jitsi_conferences{bridge="meet1"} 5' in request(exporter, "/metrics")[2]


def test_probe_by_configured_url_and_by_allow_listed_url(
        probing: Tuple[Exporter, BridgeServer], bridge_server: BridgeServer,
) -> None:
    exporter, other = probing
    bridge_server.payload = b'{"conferences": 5}'
    assert values(request(exporter, f"/probe?target={bridge_server.url}")[2])["jitsi_conferences"] == 5
    assert values(request(exporter, f"/probe?target={other.url}")[2])["jitsi_conferences"] == 42
    # The allow-listed bridge is only for /probe, not part of /metrics: /metrics does not poll it.
    polled = other.requests
    scraped = values(request(exporter, "/metrics")[2])
    assert [(k, v) for k, v in scraped.items() if k.startswith("jitsi_conferences")] == [
        ('jitsi_conferences{bridge="meet1"}', 5)]
    assert other.requests == polled


@pytest.mark.parametrize("query, status, says", [
    ("", 400, "exactly one target"),
    ("target=", 400, "exactly one target"),
    ("target=meet1&target=meet1", 400, "exactly one target"),
    ("target=meet1&module=x", 400, "Unknown parameter 'module'"),
    ("target=meet2", 404, "'meet2'"),
    ("target=http://169.254.169.254/latest/meta-data/", 404, "fetches no other URL"),
])
def test_probe_refuses_anything_not_configured(probing: Tuple[Exporter, BridgeServer], bridge_server: BridgeServer,
                                               query: str, status: int, says: str) -> None:
    exporter, other = probing
    before = (bridge_server.requests, other.requests)
    got_status, _, body = request(exporter, "/probe?" + query if query else "/probe")
    assert got_status == status
    assert says in body
    assert (bridge_server.requests, other.requests) == before


def test_probe_refuses_a_url_on_a_configured_host_but_other_path(
        probing: Tuple[Exporter, BridgeServer], bridge_server: BridgeServer,
) -> None:
    exporter, _ = probing
    before = bridge_server.requests
    status, _, _ = request(exporter, "/probe?target=" + bridge_server.url.replace("/colibri/stats", "/about/health"))
    assert status == 404 and bridge_server.requests == before


# --- timeouts and single-flight -----------------------------------------------------------

@pytest.mark.parametrize("configured, header, expected", [
    (5.0, None, 5.0),
    (5.0, "10", 5.0),
    (5.0, "2", 1.75),
    (5.0, "0.4", 0.2),
    (1.0, "not a number", 1.0),
    (5.0, "-3", 5.0),
    (5.0, "inf", 5.0),
    # Absurd values fall back to the configured timeout (issue 11, item 8).
    (5.0, "0.000001", 5.0),
    (5.0, "5e-324", 5.0),
    (5.0, "nan", 5.0),
    (5.0, "-0.5", 5.0),
    (5.0, "1e308", 5.0),
    (5.0, "0.05", 5.0),
])
def test_a_scrape_s_poll_timeout_is_the_configured_one_cut_to_fit_the_header(
        configured: float, header: Optional[str], expected: float, monkeypatch: pytest.MonkeyPatch) -> None:
    given: List[Optional[float]] = []

    def fetch(timeout: Optional[float] = None) -> Dict[str, int]:
        given.append(timeout)
        return {"conferences": 1}

    with Exporter([bridge_options("http://127.0.0.1:9/colibri/stats", timeout=configured)],
                  log=io.StringIO()) as exporter:
        monkeypatch.setattr(exporter.runtime.clients[0], "fetch", fetch)
        body = exporter.metrics(header)
    assert values(body)["jitsi_conferences"] == 1
    (timeout,) = given
    assert timeout is not None and expected - 0.1 < timeout <= expected  # the time left of that budget


def test_scrape_timeout_header_bounds_the_poll(bridge_server: BridgeServer) -> None:
    with Exporter([bridge_options(bridge_server.url, timeout=20)], log=io.StringIO()) as exporter:
        try:
            bridge_server.fault = "hang"
            start = time.monotonic()
            status, _, body = request(exporter, "/metrics", headers={"X-Prometheus-Scrape-Timeout-Seconds": "1"})
            elapsed = time.monotonic() - start
        finally:
            bridge_server.fault = None
    assert status == 200
    assert values(body)["jitsi_up"] == 0
    # Without the header the poll would wait for the configured 20 s.
    assert elapsed < 5


def test_concurrent_scrapes_share_one_poll(exporter: Exporter, bridge_server: BridgeServer) -> None:
    bridge_server.payload = b'{"conferences": 3}'
    served = bridge_server.body
    release = threading.Event()

    def slow_body() -> bytes:
        release.wait(5)  # hold the first poll until every scrape has arrived
        return served()

    bridge_server.body = slow_body  # type: ignore[method-assign]
    results: List[Reply] = []
    scrapers = [threading.Thread(target=lambda: results.append(request(exporter, "/metrics"))) for _ in range(8)]
    before = bridge_server.requests
    for thread in scrapers:
        thread.start()
    # Wait until one scrape leads the poll and the seven others wait on it.
    wait_until(lambda: exporter.runtime.followers(0) >= 7, 10, what="seven scrapes waiting on the first")
    assert exporter.runtime.followers(0) == 7
    release.set()
    for thread in scrapers:
        thread.join(10)
    assert len(results) == 8
    assert all(status == 200 and values(body)["jitsi_conferences"] == 3 for status, _, body in results)
    assert bridge_server.requests == before + 1
    # Nothing is cached once the flight lands: the next scrape polls again.
    request(exporter, "/metrics")
    assert bridge_server.requests == before + 2


def test_several_bridges_are_labelled_and_polled_together() -> None:
    with BridgeServer(payload=b'{"conferences": 1}') as one, BridgeServer(payload=b'{"conferences": 2}') as two:
        two.fault = "html-500"
        bridges = [bridge_options(one.url, name="a"), bridge_options(two.url, name="b")]
        with Exporter(bridges, log=io.StringIO()) as exporter:
            status, _, body = request(exporter, "/metrics")
    got = values(body)
    assert status == 200
    assert got['jitsi_up{bridge="a"}'] == 1 and got['jitsi_conferences{bridge="a"}'] == 1
    assert got['jitsi_up{bridge="b"}'] == 0 and 'jitsi_conferences{bridge="b"}' not in got
    assert body.count("# TYPE jitsi_up ") == 1


def test_log_reports_a_bridge_when_it_goes_bad_and_when_it_recovers(bridge_server: BridgeServer) -> None:
    log = io.StringIO()
    with Exporter([bridge_options(bridge_server.url, name="meet1", timeout=2)], log=log) as exporter:
        request(exporter, "/metrics")
        assert log.getvalue() == ""
        bridge_server.fault = "html-500"
        for _ in range(3):
            request(exporter, "/metrics")
        bridge_server.fault = None
        request(exporter, "/metrics")
        request(exporter, "/metrics")
    lines = log.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert re.match(r'ts=\S+Z level=error msg="Bridge \\"meet1\\" .*HTTP 500', lines[0])
    assert re.match(r'ts=\S+Z level=info msg="Bridge \\"meet1\\" is answering again"', lines[1])


# --- processes: SIGTERM and the drop-in command -------------------------------------------

def start_process(args: List[str]) -> Tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, env=child_env())
    assert proc.stderr is not None
    line = proc.stderr.readline()
    found = re.search(r"Listening on (http://[^;\s]+)", line)
    if not found:
        proc.kill()
        pytest.fail(f"{args[0]} said {line!r}{proc.stderr.read()!r}")
    return proc, found.group(1)


def finish(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    if proc.stderr is not None:
        proc.stderr.close()


def http_get(url: str) -> Tuple[int, str]:
    host, port = re.match(r"http://([^:/]+):(\d+)", url).groups()  # type: ignore[union-attr]
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        path = "/" + url.split("/", 3)[3] if url.count("/") >= 3 else "/"
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def test_serve_stops_on_sigterm_within_seconds(bridge_server: BridgeServer) -> None:
    proc, url = start_process([sys.executable, "-m", "jitsi_metrics.cli", "serve", "--url", bridge_server.url,
                               "--listen", "127.0.0.1:0"])
    try:
        # An idle keep-alive connection must not hold up the shutdown.
        idle = http.client.HTTPConnection(*re.match(r"http://([^:/]+):(\d+)", url).groups())  # type: ignore[union-attr]
        idle.request("GET", "/metrics")
        assert idle.getresponse().read()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        assert "Shutting down" in proc.stderr.read()  # type: ignore[union-attr]
        idle.close()
    finally:
        finish(proc)


@pytest.mark.parametrize("style", ["single-dash", "double-dash-equals"])
def test_drop_in_command_takes_the_go_flags(bridge_server: BridgeServer, style: str) -> None:
    if style == "single-dash":
        flags = ["-videobridge-url", bridge_server.url, "-web.listen-address", "127.0.0.1:0"]
    else:
        flags = [f"--videobridge-url={bridge_server.url}", "--web.listen-address=127.0.0.1:0"]
    bridge_server.payload = b'{"conferences": 4, "total_ice_succeeded": 9}'
    code = "import sys; from jitsi_metrics.exporter_cli import main; sys.exit(main())"
    proc, url = start_process([sys.executable, "-c", code, *flags])
    try:
        assert http_get(url + "/health") == (200, "ok")
        status, body = http_get(url + "/metrics")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        finish(proc)
    got = values(body)
    assert status == 200 and got["jitsi_conferences"] == 4
    # The drop-in keeps the Go exporter's unprefixed name beside ours.
    assert got["total_ice_succeeded"] == 9 and got["jitsi_total_ice_succeeded"] == 9


@pytest.mark.parametrize("argv, url, listen", [
    ([], "http://localhost:8080/colibri/stats", ":9888"),
    (["-videobridge-url=http://jvb:8080/colibri/stats"], "http://jvb:8080/colibri/stats", ":9888"),
    (["--videobridge-url", "http://jvb/colibri/stats", "-web.listen-address=:9999"],
     "http://jvb/colibri/stats", ":9999"),
    (["--web.listen-address", "127.0.0.1:1"], "http://localhost:8080/colibri/stats", "127.0.0.1:1"),
])
def test_drop_in_flag_parsing(argv: List[str], url: str, listen: str) -> None:
    args = drop_in_parser().parse_args(argv)
    assert (args.url, args.listen) == (url, listen)


@pytest.mark.parametrize("argv", [["-videobridge"], ["-debug"], ["-videobridge-url"]])
def test_drop_in_rejects_unknown_or_incomplete_flags(argv: List[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        drop_in_parser().parse_args(argv)
    assert exit_info.value.code == 2


def test_drop_in_reports_a_bad_url_and_exits_2() -> None:
    proc = subprocess.run(["prometheus-jitsi-meet-exporter", "-videobridge-url", "localhost:8080"],
                          capture_output=True, text=True, env=child_env(), timeout=20)
    assert proc.returncode == 2
    assert "'localhost:8080'" in proc.stderr and proc.stderr.count("\n") == 1


def test_serve_reports_a_busy_port_and_exits_1(exporter: Exporter, bridge_server: BridgeServer) -> None:
    host, port = exporter.address
    proc = subprocess.run([sys.executable, "-m", "jitsi_metrics.cli", "serve", "--url", bridge_server.url,
                           "--listen", f"{host}:{port}"], capture_output=True, text=True, env=child_env(), timeout=20)
    assert proc.returncode == 1
    assert f"Cannot listen on {host}:{port}" in proc.stderr


def test_drop_in_version() -> None:
    proc = subprocess.run(["prometheus-jitsi-meet-exporter", "--version"], capture_output=True, text=True,
                          env=child_env(), timeout=20)
    assert proc.returncode == 0 and proc.stdout.strip() == f"prometheus-jitsi-meet-exporter {__version__}"


# --- hostile clients and secrets (issue 11) -------------------------------------------------

def test_an_absurd_scrape_timeout_cannot_fail_the_scrapes_it_shares_a_poll_with(bridge_server: BridgeServer) -> None:
    # Before, "0.000001" became the timeout of the poll concurrent scrapes share: most
    # legitimate scrapes saw jitsi_up 0.
    served = bridge_server.body

    def slow_body() -> bytes:
        time.sleep(0.2)
        return served()

    bridge_server.body = slow_body  # type: ignore[method-assign]
    ups: List[float] = []
    with Exporter([bridge_options(bridge_server.url, timeout=5)], log=io.StringIO()) as exporter:
        for _ in range(3):
            attack = threading.Thread(target=request, args=(exporter, "/metrics"),
                                      kwargs={"headers": {TIMEOUT_HEADER: "0.000001"}})
            attack.start()
            scrapes = [threading.Thread(target=lambda: ups.append(values(request(exporter, "/metrics")[2])["jitsi_up"]))
                       for _ in range(6)]
            for thread in scrapes:
                thread.start()
            for thread in [attack, *scrapes]:
                thread.join(10)
    assert ups == [1.0] * 18


def test_credentials_never_show_in_the_start_line_and_the_password_may_come_from_the_environment(
        bridge_server: BridgeServer) -> None:
    with_user = bridge_server.url.replace("http://", "http://jvb@")
    env = {**child_env(), "JVB_SECRET": "topsecret"}
    proc = subprocess.Popen(["prometheus-jitsi-meet-exporter", "-videobridge-url", with_user,
                             "-videobridge-password-env", "JVB_SECRET", "-web.listen-address", "127.0.0.1:0"],
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stderr.readline()  # type: ignore[union-attr]
        found = re.search(r"Listening on (http://[^;\s]+)", line)
        assert found, line
        assert http_get(found.group(1) + "/metrics")[0] == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        rest = proc.stderr.read()  # type: ignore[union-attr]
        finish(proc)
    assert "topsecret" not in line + rest
    assert bridge_server.last_headers["Authorization"] == "Basic " + base64.b64encode(b"jvb:topsecret").decode()


def test_a_password_in_the_url_is_redacted_in_the_start_line(bridge_server: BridgeServer) -> None:
    proc, _ = start_process([sys.executable, "-m", "jitsi_metrics.cli", "serve", "--listen", "127.0.0.1:0",
                             "--url", bridge_server.url.replace("http://", "http://jvb:topsecret@")])
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=5) == 0
    assert "topsecret" not in proc.stderr.read()  # type: ignore[union-attr]
    finish(proc)


def test_probe_errors_never_echo_a_password(probing: Tuple[Exporter, BridgeServer]) -> None:
    exporter, _ = probing
    status, _, body = request(exporter, "/probe?target=http://jvb:topsecret@10.0.0.1/colibri/stats")
    assert status == 404 and "topsecret" not in body and "jvb:***@10.0.0.1" in body


def test_probe_allow_takes_two_urls_on_one_host_port_and_names(bridge_server: BridgeServer) -> None:
    # Two bridges behind one proxy share host:port; before, their default names collided.
    first, second = bridge_server.url, bridge_server.url + "?bridge=2"
    args = build_parser().parse_args(["serve", "--probe-allow", first, "--probe-allow", f"meet9={second}"])
    allowed = probe_allowed(args, {})
    assert [b.name for b in allowed] == [first, "meet9"]
    with Exporter([], probe_only=allowed, log=io.StringIO()) as exporter:
        before = bridge_server.requests
        for target in (first, "meet9", second):
            status, _, body = request(exporter, "/probe?target=" + urllib.parse.quote(target, safe=""))
            assert status == 200 and values(body)["jitsi_up"] == 1, (target, body)
        assert bridge_server.requests == before + 3
        assert 'href="/probe?target=meet9"' in request(exporter, "/")[2]


def test_an_internal_error_logs_one_bounded_line(bridge_server: BridgeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    log = io.StringIO()

    def broken(header: Optional[str]) -> str:
        raise ValueError("\x1b[2J" + "b" * 15000)

    with Exporter([bridge_options(bridge_server.url)], log=log) as exporter:
        monkeypatch.setattr(exporter, "metrics", broken)
        assert request(exporter, "/metrics")[0] == 500
    (line,) = log.getvalue().splitlines()
    assert "GET '/metrics' failed: ValueError" in line
    assert len(line) <= MAX_LINE + 100 and "\x1b" not in line


# --- the HTTP layer under abuse (issue 11, items 9 and 10) ----------------------------------

def test_idle_connections_cannot_starve_metrics_and_health(bridge_server: BridgeServer) -> None:
    # Under http.server, 252 idle connections with `ulimit -n 256` made both time out.
    command = f"ulimit -n 256 && exec {sys.executable} -m jitsi_metrics.cli serve --url {bridge_server.url}" \
              " --listen 127.0.0.1:0"
    proc = subprocess.Popen(["sh", "-c", command], stderr=subprocess.PIPE, text=True, env=child_env())
    idle: List[socket.socket] = []
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "lowered from 256 to 128" in line  # half the open-file limit
        line = proc.stderr.readline()
        found = re.search(r"Listening on http://([^:]+):(\d+);.* at most 128 connections", line)
        assert found, line
        address = (found.group(1), int(found.group(2)))
        for _ in range(300):
            idle.append(socket.create_connection(address, timeout=5))
        for path, expected in (("/health", "ok"), ("/metrics", "jitsi_up 1")):
            conn = http.client.HTTPConnection(*address, timeout=5)
            conn.request("GET", path)
            response = conn.getresponse()
            assert response.status == 200 and expected in response.read().decode()
            conn.close()
    finally:
        for sock in idle:
            sock.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
        finish(proc)


def test_a_get_body_is_never_run_as_a_request(exporter: Exporter, bridge_server: BridgeServer) -> None:
    # Under http.server the body below got a second answer: a /metrics poll nobody sent.
    smuggled = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
    smuggled += b" " * (40 - len(smuggled))
    before = bridge_server.requests
    with socket.create_connection(exporter.address, timeout=5) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n" + smuggled
                     + b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answers = b""
        while True:
            data = sock.recv(65536)
            if not data:
                break
            answers += data
    assert answers.count(b"HTTP/1.1 ") == 2 and answers.count(b"\r\n\r\nok") == 2, answers
    assert bridge_server.requests == before


@pytest.mark.parametrize("method, status", [("PATCH", 405), ("OPTIONS", 405), ("TRACE", 501), ("BREW", 501)])
def test_other_methods_keep_their_status_codes(exporter: Exporter, method: str, status: int) -> None:
    assert request(exporter, "/metrics", method=method)[0] == status


def test_serve_rejects_a_zero_connection_cap() -> None:
    proc = subprocess.run([sys.executable, "-m", "jitsi_metrics.cli", "serve", "--url", "http://127.0.0.1:1/x",
                           "--max-connections", "0"], capture_output=True, text=True, env=child_env(), timeout=20)
    assert proc.returncode == 2 and "--max-connections 0" in proc.stderr
