"""The exporter's HTTP server over real sockets: framing, keep-alive, HEAD, the connection
cap, idle/slow-client/slow-reader timeouts, the worker pool and stopping."""
from __future__ import annotations

import os
import signal
import socket
import threading
import time
from typing import Dict, Iterator, List, Optional, Tuple

import pytest

from jitsi_metrics.httpserver import HttpServer, Limits
from jitsi_metrics.httpwire import Request, Response
from waiting import wait_until

Answer = Tuple[int, Dict[str, str], bytes]
BIG = b"x" * (8 << 20)  # more than any socket buffer holds


class App:
    """Records every request; /slow waits for ``release``, /boom raises, /big is 8 MB."""

    def __init__(self) -> None:
        self.seen: List[Request] = []
        self.release = threading.Event()
        self.waiting = 0

    def __call__(self, request: Request) -> Response:
        self.seen.append(request)
        if request.path == "/slow":
            self.waiting += 1
            self.release.wait(10)
        if request.path == "/boom":
            raise RuntimeError("bug")
        if request.path == "/big":
            return Response(200, "application/octet-stream", BIG)
        body = f"{request.method} {request.path}?{request.query}".encode()
        return Response(200, "text/plain", body, (("X-Seen", str(len(self.seen))),))

    def paths(self) -> List[str]:
        return [r.path for r in self.seen]


class Wire:
    """A raw client socket that reads answers one at a time, so pipelining shows."""

    opened: List["Wire"] = []  # closed by the serve fixture

    def __init__(self, server: HttpServer, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection(server.address, timeout=timeout)
        self.buf = b""
        Wire.opened.append(self)

    def send(self, data: bytes) -> "Wire":
        self.sock.sendall(data)
        return self

    def get(self, path: str, extra: str = "", version: str = "HTTP/1.1") -> "Wire":
        return self.send(f"GET {path} {version}\r\nHost: test\r\n{extra}\r\n".encode())

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        self.buf += data
        return bool(data)

    def answer(self, head_only: bool = False) -> Answer:
        while b"\r\n\r\n" not in self.buf:
            if not self._fill():
                raise EOFError(f"connection closed; got {self.buf!r}")
        top, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = top.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = 0 if head_only else int(headers["content-length"])
        while len(self.buf) < length:
            if not self._fill():
                raise EOFError("connection closed inside a body")
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, headers, body

    def closed(self) -> bool:
        """True once the server has closed (EOF or reset); what arrives before is kept in buf."""
        timeout = self.sock.gettimeout()
        self.sock.setblocking(False)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
                self.buf += data
        except BlockingIOError:
            return False
        except ConnectionResetError:
            return True
        finally:
            self.sock.settimeout(timeout)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def app() -> App:
    return App()


@pytest.fixture
def serve(app: App) -> Iterator:
    """serve(**limits) -> a started server with ``app``; stopped after the test."""
    servers: List[HttpServer] = []
    lines: List[Tuple[str, str]] = []

    def start(quick_paths: Tuple[str, ...] = (), **limits: float) -> HttpServer:
        server = HttpServer(app, "127.0.0.1", 0, Limits(**limits), quick_paths,  # type: ignore[arg-type]
                            log=lambda level, message: lines.append((level, message)))
        server.lines = lines  # type: ignore[attr-defined]
        servers.append(server.start())
        return server

    yield start
    app.release.set()
    for server in servers:
        server.stop(1.0)
    while Wire.opened:
        Wire.opened.pop().close()


# --- framing ---------------------------------------------------------------------------

def test_answers_with_status_headers_and_body(serve, app: App) -> None:
    wire = Wire(serve()).get("/metrics?a=1", "X-Prometheus-Scrape-Timeout-Seconds: 3\r\n")
    status, headers, body = wire.answer()
    assert (status, body) == (200, b"GET /metrics?a=1")
    assert headers["content-type"] == "text/plain" and headers["x-seen"] == "1"
    assert headers["server"] == "jitsi-meet-metrics" and headers["date"].endswith(" GMT")
    assert "connection" not in headers  # HTTP/1.1: kept alive without saying so
    assert app.seen[0].headers["x-prometheus-scrape-timeout-seconds"] == "3"


def test_keep_alive_serves_requests_on_one_connection(serve, app: App) -> None:
    wire = Wire(serve())
    for i in range(3):
        assert wire.get(f"/n{i}").answer()[2] == f"GET /n{i}?".encode()
    assert not wire.closed()


def test_pipelined_requests_are_answered_in_order(serve, app: App) -> None:
    wire = Wire(serve()).send(b"GET /a HTTP/1.1\r\nHost: t\r\n\r\nGET /b HTTP/1.1\r\nHost: t\r\n\r\n")
    assert [wire.answer()[2], wire.answer()[2]] == [b"GET /a?", b"GET /b?"]


@pytest.mark.parametrize("version, extra, stays_open", [
    ("HTTP/1.1", "", True),
    ("HTTP/1.1", "Connection: close\r\n", False),
    ("HTTP/1.0", "", False),
    ("HTTP/1.0", "Connection: keep-alive\r\n", True),
])
def test_connection_header_and_version_decide_keep_alive(serve, version: str, extra: str, stays_open: bool) -> None:
    wire = Wire(serve()).get("/x", extra, version)
    _, headers, _ = wire.answer()
    if stays_open:
        assert headers.get("connection") in (None, "keep-alive")
        assert wire.get("/y", extra, version).answer()[2] == b"GET /y?"
    else:
        assert headers["connection"] == "close"
        wait_until(wire.closed, what="the server to close the connection")


def test_head_gets_the_get_headers_without_a_body(serve) -> None:
    server = serve()
    wire = Wire(server)
    wire.send(b"HEAD /h HTTP/1.1\r\nHost: t\r\n\r\n")
    status, headers, _ = wire.answer(head_only=True)
    assert status == 200 and headers["content-length"] == str(len(b"HEAD /h?"))  # the body it did not send
    # No body followed: the next answer starts right after the HEAD's headers.
    assert wire.get("/next").answer()[2] == b"GET /next?"


def test_a_get_body_is_skipped_never_run_as_a_request(serve, app: App) -> None:
    smuggled = b"GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n"
    smuggled += b"x" * (40 - len(smuggled))
    wire = Wire(serve()).send(b"GET /first HTTP/1.1\r\nHost: t\r\nContent-Length: 40\r\n\r\n" + smuggled)
    wire.get("/after")
    assert [wire.answer()[2], wire.answer()[2]] == [b"GET /first?", b"GET /after?"]
    assert app.paths() == ["/first", "/after"]


def test_expect_100_continue_gets_the_interim_answer(serve, app: App) -> None:
    wire = Wire(serve()).send(b"POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
    assert wire.answer(head_only=True)[0] == 100
    assert wire.send(b"abc").answer()[2] == b"POST /p?"


@pytest.mark.parametrize("name, data, status", [
    ("garbage", b"\x16\x03\x01\x02\x00 hello\r\n\r\n", 400),
    ("http-0.9", b"GET /\r\n\r\n", 400),
    ("http-2", b"GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505),
    ("bare-lf", b"GET / HTTP/1.1\nHost: t\n\n", 400),
    ("bare-cr", b"GET / HTTP/1.1\r\nHost: t\rX: y\r\n\r\n", 400),
    ("folded-header", b"GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n b\r\n\r\n", 400),
    ("space-before-colon", b"GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400),
    ("no-host", b"GET / HTTP/1.1\r\n\r\n", 400),
    ("two-hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ("nul-in-value", b"GET / HTTP/1.1\r\nHost: t\r\nX: a\x00b\r\n\r\n", 400),
    ("relative-target", b"GET metrics HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    ("non-ascii-target", "GET /mé HTTP/1.1\r\nHost: t\r\n\r\n".encode(), 400),
    ("chunked", b"GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501),
    ("chunked-and-length",
     b"GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400),
    ("signed-length", b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: +4\r\n\r\nabcd", 400),
    ("two-lengths", b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde", 400),
    ("huge-body", b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000000\r\n\r\n", 413),
    ("long-request-line", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414),
    ("long-head", b"GET / HTTP/1.1\r\nHost: t\r\nX: " + b"a" * 20000 + b"\r\n\r\n", 431),
    ("many-fields", b"GET / HTTP/1.1\r\nHost: t\r\n" + b"X: y\r\n" * 101 + b"\r\n", 431),
])
def test_bad_requests_are_refused_once_and_the_connection_closed(serve, app: App, name: str, data: bytes,
                                                                  status: int) -> None:
    wire = Wire(serve()).send(data)
    got, headers, body = wire.answer()
    assert got == status, (name, body)
    assert headers["connection"] == "close" and body.startswith(b"Bad request: ")
    wait_until(wire.closed, what="the server to close the connection")
    assert app.seen == []


def test_an_application_error_is_a_500_and_one_log_line(serve, app: App) -> None:
    server = serve()
    status, headers, body = Wire(server).get("/boom").answer()
    assert status == 500 and headers["connection"] == "close"
    assert server.lines == [("error", "GET '/boom' failed: RuntimeError('bug'); answered HTTP 500")]
    assert Wire(server).get("/fine").answer()[0] == 200


# --- timeouts ------------------------------------------------------------------------

def test_an_idle_keep_alive_connection_is_closed_after_idle_timeout(serve) -> None:
    wire = Wire(serve(idle_timeout=0.3))
    assert wire.get("/x").answer()[0] == 200
    wait_until(wire.closed, timeout=5, what="the idle connection to be closed")


def test_a_silent_new_connection_is_closed_after_header_timeout(serve) -> None:
    server = serve(header_timeout=0.3)
    wire = Wire(server)
    wait_until(wire.closed, timeout=5, what="the silent connection to be closed")
    assert wire.buf == b""  # nothing was asked, nothing is answered


def test_a_client_sending_its_head_a_byte_at_a_time_is_cut_off(serve, app: App) -> None:
    server = serve(header_timeout=0.5)
    wire = Wire(server).send(b"GET /x HTTP/1.1\r\n")
    trickle = iter(b"X-Slow: " + b"a" * 1000)
    start = time.monotonic()

    def one_more_byte_or_closed() -> bool:
        try:
            wire.send(bytes([next(trickle)]))
        except (BrokenPipeError, ConnectionResetError):
            return True
        return wire.closed()

    wait_until(one_more_byte_or_closed, timeout=10, interval=0.05, what="the trickling client to be cut off")
    assert time.monotonic() - start < 5  # each byte was progress; the head's deadline still held
    assert wire.buf.startswith(b"HTTP/1.1 408 ")
    assert app.seen == [] and Wire(server).get("/other").answer()[0] == 200


def test_a_client_that_does_not_read_its_answer_is_closed_after_send_timeout(serve) -> None:
    server = serve(send_timeout=0.5)
    stuck = Wire(server).get("/big")  # never read
    other = Wire(server).get("/meanwhile", "Connection: close\r\n")
    assert other.answer()[0] == 200  # the loop is not blocked by it
    wait_until(other.closed, what="the other connection to close")
    wait_until(lambda: server.connections == 0, timeout=10, what="the slow reader to be closed")
    stuck.close()


# --- concurrency and the cap ---------------------------------------------------------------

def test_a_slow_answer_does_not_hold_up_other_connections(serve, app: App) -> None:
    server = serve(workers=4)
    slow = Wire(server).get("/slow")
    wait_until(lambda: app.waiting == 1, what="the slow request to start")
    assert Wire(server).get("/fast").answer()[2] == b"GET /fast?"
    app.release.set()
    assert slow.answer()[2] == b"GET /slow?"


def test_quick_paths_answer_while_every_worker_is_busy(serve, app: App) -> None:
    server = serve(quick_paths=("/health",), workers=1)
    slow = Wire(server).get("/slow")
    wait_until(lambda: app.waiting == 1, what="the only worker to be busy")
    assert Wire(server).get("/health").answer()[2] == b"GET /health?"
    queued = Wire(server).get("/queued")  # waits for the worker, in order
    app.release.set()
    assert slow.answer()[2] == b"GET /slow?" and queued.answer()[2] == b"GET /queued?"


def test_at_the_cap_idle_connections_give_way_and_requests_are_answered(serve) -> None:
    server = serve(max_connections=8)
    idle = [Wire(server) for _ in range(40)]
    wait_until(lambda: idle[-1].closed() is False and server.connections == 8, what="8 connections held")
    fresh = Wire(server).get("/metrics")
    assert fresh.answer()[2] == b"GET /metrics?"
    assert server.connections <= 8
    # The ones that waited longest were closed to make room.
    wait_until(lambda: all(w.closed() for w in idle[:30]), what="the oldest idle connections to be closed")
    assert server.lines and "Connection cap of 8 reached" in server.lines[0][1]
    for wire in idle:
        wire.close()


def test_at_the_cap_with_every_connection_busy_a_newcomer_gets_503(serve, app: App) -> None:
    server = serve(max_connections=2, workers=2)
    busy = [Wire(server).get("/slow") for _ in range(2)]
    wait_until(lambda: app.waiting == 2, what="both connections to be busy")
    status, headers, _ = Wire(server).answer()
    assert status == 503 and headers["connection"] == "close"
    app.release.set()
    assert [w.answer()[0] for w in busy] == [200, 200]
    for wire in busy:
        wire.close()
    wait_until(lambda: server.connections == 0, what="the server to see both clients leave")
    assert Wire(server).get("/after").answer()[0] == 200


# --- stopping ------------------------------------------------------------------------------

def refused(server: HttpServer) -> bool:
    try:
        socket.create_connection(server.address, timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_stop_closes_idle_connections_and_finishes_answers_in_progress(serve, app: App) -> None:
    server = serve()
    idle = Wire(server)
    assert idle.get("/x").answer()[0] == 200
    slow = Wire(server).get("/slow")
    wait_until(lambda: app.waiting == 1, what="the slow request to start")
    stopper = threading.Thread(target=server.stop, args=(5.0,))
    stopper.start()
    wait_until(idle.closed, what="the idle connection to be closed at once")
    assert refused(server)
    app.release.set()
    status, headers, body = slow.answer()
    assert (status, body, headers["connection"]) == (200, b"GET /slow?", "close")
    stopper.join(5)
    assert not stopper.is_alive()


def test_stop_gives_up_on_a_stuck_answer_after_grace(serve, app: App) -> None:
    server = serve()
    stuck = Wire(server).get("/slow")
    wait_until(lambda: app.waiting == 1, what="the slow request to start")
    start = time.monotonic()
    server.stop(0.3)
    assert time.monotonic() - start < 2
    wait_until(stuck.closed, what="the stuck client to see the end")
    assert refused(server)


def test_request_stop_is_safe_in_a_signal_handler(serve) -> None:
    server = serve()
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: server.request_stop(0.5))
    try:
        os.kill(os.getpid(), signal.SIGUSR1)
        wait_until(lambda: refused(server), what="the server to stop")
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_stop_without_start_releases_the_port(app: App) -> None:
    server = HttpServer(app, "127.0.0.1", 0)
    address = server.address
    server.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=1)


def test_the_cap_fits_the_open_file_limit(app: App) -> None:
    resource = pytest.importorskip("resource")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    lines: List[Tuple[str, str]] = []
    resource.setrlimit(resource.RLIMIT_NOFILE, (200, hard))
    try:
        server: Optional[HttpServer] = HttpServer(app, "127.0.0.1", 0, Limits(max_connections=1000),
                                                  log=lambda level, message: lines.append((level, message)))
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert server is not None and server.max_connections == 100
    assert lines and "lowered from 1000 to 100" in lines[0][1] and "(200)" in lines[0][1]
    server.stop()
