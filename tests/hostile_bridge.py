"""A bridge that misbehaves below HTTP: raw bytes on a socket, on 127.0.0.1.

The simulated bridge (simulate.py) speaks proper HTTP through http.server; the faults
here are the ones http.server cannot produce: headers that never finish, endless
"100 Continue", a gzip bomb, hostile reason phrases and header values. Imports only
the standard library, so Debian's /usr/bin/python3 can run it too (tests run the
fetch path under urllib3 1.26 that way).
"""
from __future__ import annotations

import gzip
import socket
import threading
import time
import zlib
from typing import List, Optional


def _gzip_zeros(size: int) -> bytes:
    """``size`` zero bytes gzipped, compressed a megabyte at a time (never all in memory)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip framing
    chunk = b"\0" * (1 << 20)
    out = [packer.compress(chunk) for _ in range(size >> 20)]
    return b"".join(out) + packer.flush()


def gzip_bomb(inflated: int = 256 * 1024 * 1024) -> bytes:
    """Zeros gzipped twice: under 2 kB on the wire, ``inflated`` bytes once decoded."""
    return gzip.compress(_gzip_zeros(inflated), 9)


def answer(mode: str) -> List[bytes]:
    """The pieces the bridge sends, one per write; a ``None``-free list of chunks."""
    if mode == "gzip-bomb":
        body = gzip_bomb()
        return [b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip, gzip\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode() + body]
    if mode == "hostile-text":
        body = b"<html>" + b"\x1b[2J\x07" * 5000 + b"</html>"
        return [b"HTTP/1.1 502 Bad\x1b[31mGateway\x07" + b"x" * 60000 + b"\r\n"
                + b"Content-Type: text/html\x1b]0;owned\x07" + b"y" * 60000 + b"\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode() + body]
    if mode == "not-json-hostile":
        body = b"\x1b[2J" * 4000
        return [b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\x1b[31m" + b"z" * 60000 + b"\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode() + body]
    raise ValueError(mode)


class HostileBridge:
    """Accepts connections and answers each request according to ``mode``:
    ``slow-headers`` (a byte every 0.5 s), ``continue-forever`` (100 Continue every
    50 ms) or one of ``answer``'s modes."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.pieces = answer(mode) if mode not in ("slow-headers", "continue-forever") else []  # built before any clock
        self.requests: List[bytes] = []
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d/colibri/stats" % self._sock.getsockname()[1]

    def start(self) -> "HostileBridge":
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                request += chunk
            self.requests.append(request)
            if self.mode == "slow-headers":
                for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10000:
                    if self._stop.wait(0.5):
                        return
                    conn.sendall(bytes([byte]))
            elif self.mode == "continue-forever":
                while not self._stop.wait(0.05):
                    conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            else:
                for piece in self.pieces:
                    conn.sendall(piece)
                time.sleep(0.2)
        except OSError:
            pass
        finally:
            conn.close()


if __name__ == "__main__":  # python3 hostile_bridge.py MODE: fetch from it with the package on sys.path
    import json
    import sys

    from jitsi_metrics.config import bridge_options
    from jitsi_metrics.fetch import BridgeClient, FetchError

    bridge = HostileBridge(sys.argv[1]).start()
    started = time.monotonic()
    with BridgeClient(bridge_options(bridge.url, name="hostile", timeout=float(sys.argv[2]))) as client:
        try:
            client.fetch()
            outcome = {"error": None}
        except FetchError as error:
            outcome = {"error": type(error).__name__, "message": str(error)}
    import resource

    import urllib3

    outcome.update(seconds=time.monotonic() - started, urllib3=urllib3.__version__,
                   max_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                   requests=[r.decode("latin-1") for r in bridge.requests])
    bridge.stop()
    print(json.dumps(outcome))
