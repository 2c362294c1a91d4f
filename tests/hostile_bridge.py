"""A hostile bridge on 127.0.0.1: every way a bridge (or whatever answers in its place)
has been seen, or tried, to attack a poller.

One server answers every mode at once, each on its own path: the URL of mode ``hang``
is ``http://127.0.0.1:<port>/hang/colibri/stats``. It speaks raw HTTP/1.1 over sockets
(no http.server), because several modes are things a well-behaved server library
refuses to send: status lines one byte at a time, endless ``100 Continue``, reason
phrases with control characters. Nothing it sends is held in memory whole: the 1 GiB
body is written in chunks, and the decompression bomb is built by streaming zeros
through zlib once per process.

``MODES`` maps each mode to what the poller should make of it: ``DOWN`` (the bridge
counts as down: ``jitsi_up 0`` and nothing else) or ``PARTIAL`` (it answered; its valid
fields are kept, its invalid ones dropped). ``refused`` is a URL on which nothing
listens. ``SECRET`` is the password of the ``userinfo`` mode's URL: it must appear in no
output and no log.
"""
from __future__ import annotations

import json
import socket
import threading
import time
import zlib
from functools import lru_cache
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

GOOD_PAYLOAD_FILE = (
    Path(__file__).resolve().parent / "payloads" / "real" / "jvb2-2.3.168-stable9779-from-designet-zabbix-template.json"
)
STATS_PATH = "/colibri/stats"
DOWN = "down"
PARTIAL = "partial"
SECRET = "s3cret-Pa55-never-shown"
GIB = 1 << 30
CHUNK = 1 << 16
BOMB_SIZE = GIB  # decompressed size of the gzip-gzip bomb

# mode -> what a poller must make of it
MODES: Dict[str, str] = {
    "refused": DOWN,
    "hang": DOWN,
    "trickle": DOWN,
    "huge-body": DOWN,
    "redirect": DOWN,
    "status-401": DOWN,
    "status-403": DOWN,
    "status-404": DOWN,
    "status-500": DOWN,
    "status-502": DOWN,
    "status-503": DOWN,
    "slow-headers": DOWN,
    "continue-flood": DOWN,
    "surrogate-escape": PARTIAL,
    "surrogate-raw": PARTIAL,
    "bigint-known": PARTIAL,
    "bigint-unknown": PARTIAL,
    "gzip-bomb": DOWN,
    "influx-hostile": PARTIAL,
    "name-collisions": PARTIAL,
    "hostile-reason": DOWN,
    "hostile-content-type": DOWN,
    "deep-nesting": DOWN,
    "long-keys": PARTIAL,
    "nan-infinity": PARTIAL,
    "userinfo": DOWN,
}

# Modes whose answer never completes: a poll of them lasts until its deadline.
SLOW_MODES = ("hang", "trickle", "slow-headers", "continue-flood")

# Payload modes: (raw JSON body, keys the poller must drop). Every other key is valid
# and must come through unchanged. Kept as bytes: some are not what json.dumps writes.
CONTROL_TEXT = "\x1b[31m\r\x07"
LONG_KEY = "k" * 5000


def _payload_bodies() -> Dict[str, Tuple[bytes, Tuple[str, ...]]]:
    big = "1" + "0" * 4000
    return {
        "surrogate-escape": (b'{"conferences": 3, "version": "2.3\\ud800", "region": "eu\\udfff"}', ()),
        "surrogate-raw": (b'{"conferences": 3, "version": "2.3\xed\xa0\x80", "participants": 4}', ()),
        "bigint-known": (f'{{"conferences": {big}, "participants": 4}}'.encode(), ("conferences",)),
        "bigint-unknown": (f'{{"new_stat_from_the_future": {big}, "participants": 4}}'.encode(),
                           ("new_stat_from_the_future",)),
        "influx-hostile": (json.dumps({
            "conferences": 3, "version": "2.3\nevil,tag=1 field=1i", "region": "eu\rwest ",
            "release": "r\\", "relay_id": "relay\\", "": 5,
        }).encode(), ("",)),
        "name-collisions": (json.dumps({
            "up": 0, "scrape_duration_seconds": 99, "version_info": 7, "a b": 1, "a_b": 2, "conferences": 3,
        }).encode(), ("up", "scrape_duration_seconds", "version_info")),
        "long-keys": (json.dumps({LONG_KEY: 1, "conferences": 3, "x" * 5000: "text"}).encode(), ()),
        "nan-infinity": (b'{"conferences": 3, "stress_level": NaN, "rtt_aggregate": Infinity,'
                         b' "brand_new_gauge": -Infinity, "participants": -0.0}', ()),
        "deep-nesting": (b"[" * 100_000 + b"]" * 100_000, ()),
    }


PAYLOAD_BODIES = _payload_bodies()


@lru_cache(maxsize=1)
def gzip_bomb() -> bytes:
    """BOMB_SIZE zeros, gzipped twice: about 1.8 kB on the wire, built without holding
    the decompressed bytes (or the once-compressed megabyte more than once)."""
    inner = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    parts = [inner.compress(zeros) for _ in range(BOMB_SIZE >> 20)]
    parts.append(inner.flush())
    outer = zlib.compressobj(9, zlib.DEFLATED, 31)
    return outer.compress(b"".join(parts)) + outer.flush()


def good_payload() -> bytes:
    return GOOD_PAYLOAD_FILE.read_bytes()


def _head(status: str, headers: List[Tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in headers] + ["", ""]
    return "\r\n".join(lines).encode("utf-8", "surrogateescape")


def _page(status: str, body: bytes, ctype: str = "text/html") -> bytes:
    return _head(status, [("Content-Type", ctype), ("Content-Length", str(len(body))),
                          ("Connection", "close")]) + body


class HostileBridge:
    """Serves every mode of MODES on 127.0.0.1 (an ephemeral port) until ``stop()``.

    ``every_path``: a mode this server answers on every path instead, so that its
    ``base_url`` (no path) is hostile to discovery's every request (/about/version,
    /colibri/stats, /metrics, /stats).
    """

    def __init__(self, every_path: Optional[str] = None) -> None:
        self.every_path = every_path
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._conns: List[socket.socket] = []
        self.requests: Dict[str, int] = {}
        self.request_heads: Dict[str, List[bytes]] = {}  # by mode: request line and headers as sent
        self.request_times: Dict[str, List[float]] = {}  # by path and query
        self.bytes_sent: Dict[str, int] = {}
        # Mode "cycle" answers each request with the next of these, round and round.
        self.cycle: List[str] = ["good"] + [m for m in MODES if m not in ("refused", "userinfo")]
        self._cycle_index = 0
        self._thread = threading.Thread(target=self._accept_loop, name="hostile-bridge", daemon=True)
        # A port nothing listens on, for "refused".
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self._refused_port = probe.getsockname()[1]
        probe.close()

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, mode: str, run: str = "") -> str:
        """The URL of ``mode``; ``run`` (a query string) tells apart the requests of
        concurrent pollers in ``request_times``."""
        query = f"?run={run}" if run else ""
        if mode == "refused":
            return f"http://127.0.0.1:{self._refused_port}{STATS_PATH}"
        if mode == "userinfo":
            return f"http://jvb:{SECRET}@127.0.0.1:{self.port}/userinfo{STATS_PATH}{query}"
        if mode not in MODES and mode not in ("good", "cycle"):
            raise KeyError(mode)
        return f"http://127.0.0.1:{self.port}/{mode}{STATS_PATH}{query}"

    def start(self) -> "HostileBridge":
        gzip_bomb()  # built here (about 2 s once per process), not while a poller waits
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        try:
            self._listener.close()
        except OSError:
            pass
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    def __enter__(self) -> "HostileBridge":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            head = self._read_request_head(conn)
            if head is None:
                return
            parts = head.split(b"\r\n", 1)[0].split(b" ")
            if len(parts) < 2:
                return
            path = parts[1].decode("latin-1")
            mode = self.every_path or path.split("?")[0].strip("/").split("/")[0]
            with self._lock:
                self.request_heads.setdefault(mode, []).append(head)
                self.requests[mode] = self.requests.get(mode, 0) + 1
                self.request_times.setdefault(path, []).append(time.monotonic())
            self._answer(conn, mode)
        except OSError:
            pass  # the poller gave up: what it should do
        finally:
            with self._lock:
                if conn in self._conns:
                    self._conns.remove(conn)
            try:
                conn.close()
            except OSError:
                pass

    def _read_request_head(self, conn: socket.socket) -> Optional[bytes]:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk or len(data) > 65536:
                return None
            data += chunk
        return data.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"

    def _send(self, conn: socket.socket, mode: str, data: bytes) -> None:
        conn.sendall(data)
        with self._lock:
            self.bytes_sent[mode] = self.bytes_sent.get(mode, 0) + len(data)

    def _drip(self, conn: socket.socket, mode: str, data: bytes, every: float) -> None:
        for i in range(len(data)):
            if self._stopping.wait(every):
                return
            self._send(conn, mode, data[i:i + 1])

    def _answer(self, conn: socket.socket, mode: str) -> None:
        if mode == "cycle":
            with self._lock:
                mode = self.cycle[self._cycle_index % len(self.cycle)]
                self._cycle_index += 1
        handler: Optional[Callable[[socket.socket, str], None]] = getattr(self, "_mode_" + mode.replace("-", "_"), None)
        if handler is not None:
            handler(conn, mode)
        elif mode in PAYLOAD_BODIES:
            body = PAYLOAD_BODIES[mode][0]
            self._send(conn, mode, _page("200 OK", body, "application/json"))
        elif mode.startswith("status-") and mode[7:].isdigit():
            code = int(mode[7:])
            body = f"<html><body><h2>HTTP ERROR {code}</h2></body></html>".encode()
            self._send(conn, mode, _page(f"{code} Error", body))
        else:
            self._send(conn, mode, _page("404 Not Found", b"no such mode"))

    def _mode_good(self, conn: socket.socket, mode: str) -> None:
        self._send(conn, mode, _page("200 OK", good_payload(), "application/json"))

    def _mode_hang(self, conn: socket.socket, mode: str) -> None:
        self._stopping.wait(120)

    def _mode_trickle(self, conn: socket.socket, mode: str) -> None:
        body = good_payload()
        self._send(conn, mode, _head("200 OK", [("Content-Type", "application/json"),
                                                ("Content-Length", str(len(body)))]))
        self._drip(conn, mode, body, 0.2)

    def _mode_huge_body(self, conn: socket.socket, mode: str) -> None:
        self._send(conn, mode, _head("200 OK", [("Content-Type", "application/json"),
                                                ("Content-Length", str(GIB))]))
        chunk = b"[" + b" " * (CHUNK - 1)
        for _ in range(GIB // CHUNK):
            if self._stopping.is_set():
                return
            self._send(conn, mode, chunk)

    def _mode_redirect(self, conn: socket.socket, mode: str) -> None:
        self._send(conn, mode, _head("302 Found", [("Location", self.url("good")), ("Content-Length", "0"),
                                                   ("Connection", "close")]))

    def _mode_slow_headers(self, conn: socket.socket, mode: str) -> None:
        head = _head("200 OK", [("Content-Type", "application/json"), ("X-Padding", "p" * 200),
                                ("Content-Length", "2")])
        self._drip(conn, mode, head + b"{}", 0.5)

    def _mode_continue_flood(self, conn: socket.socket, mode: str) -> None:
        while not self._stopping.wait(0.05):
            self._send(conn, mode, b"HTTP/1.1 100 Continue\r\n\r\n")

    def _mode_gzip_bomb(self, conn: socket.socket, mode: str) -> None:
        body = gzip_bomb()
        self._send(conn, mode, _head("200 OK", [("Content-Type", "application/json"),
                                                ("Content-Encoding", "gzip, gzip"),
                                                ("Content-Length", str(len(body))), ("Connection", "close")]) + body)

    def _mode_hostile_reason(self, conn: socket.socket, mode: str) -> None:
        reason = (CONTROL_TEXT + "Service Unavailable ") * 4000  # ~ 100 kB of status line
        body = b"<html>unavailable</html>"
        self._send(conn, mode, _page(f"503 {reason[:60000]}", body))

    def _mode_hostile_content_type(self, conn: socket.socket, mode: str) -> None:
        ctype = ("text/html; " + CONTROL_TEXT) * 3000
        self._send(conn, mode, _page("200 OK", b"<html>" + b"x" * 15000 + b"</html>", ctype[:60000]))

    def _mode_userinfo(self, conn: socket.socket, mode: str) -> None:
        body = b"<html>Internal error</html>"
        self._send(conn, mode, _page("500 Internal Server Error", body))


def expected_partial(mode: str) -> Dict[str, object]:
    """For a PARTIAL mode: the payload keys whose values must come through (parsed the
    way a lenient reader would), i.e. every key but the ones the poller must drop."""
    body, dropped = PAYLOAD_BODIES[mode]
    payload = json.loads(body.decode("utf-8", "surrogatepass"))
    return {k: v for k, v in payload.items() if k not in dropped}


if __name__ == "__main__":
    # python3 hostile_bridge.py TIMEOUT MODE...: one fetch of each mode with the package on
    # sys.path, printed as JSON; tests run it under Debian's /usr/bin/python3, collectd's Python.
    import platform
    import resource
    import sys

    from jitsi_metrics.config import bridge_options
    from jitsi_metrics.fetch import BridgeClient, FetchError

    outcomes: Dict[str, Dict[str, object]] = {}
    with HostileBridge() as bridge:
        for mode in sys.argv[2:]:
            started = time.monotonic()
            outcome: Dict[str, object] = {"error": None}
            options = bridge_options(bridge.url(mode), name="hostile", timeout=float(sys.argv[1]))
            with BridgeClient(options) as client:
                try:
                    client.fetch()
                except FetchError as error:
                    outcome = {"error": type(error).__name__, "message": str(error)}
            outcome["seconds"] = time.monotonic() - started
            outcomes[mode] = outcome
    print(json.dumps({"python": platform.python_version(), "executable": sys.executable, "modes": outcomes,
                      "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
