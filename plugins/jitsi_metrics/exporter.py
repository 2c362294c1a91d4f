"""The Prometheus exporter: ``/metrics``, ``/probe``, ``/health`` and ``/`` over HTTP/1.1.

Bridges are polled when Prometheus scrapes, never in the background, so a sample is
never older than the scrape. Example output line: ``jitsi_conferences 3``.

Routes (GET and HEAD only)::

    /metrics            every configured bridge; labelled ``bridge`` when there are several
    /probe?target=NAME  one configured bridge (by name or URL) or an allow-listed URL, unlabelled:
                        Prometheus sets ``instance`` by relabelling. Anything else: 400/404,
                        so the exporter can never be made to fetch an arbitrary URL.
    /health             "ok" without touching any bridge, like the Go exporter
    /                   a small landing page
"""
from __future__ import annotations

import html
import math
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import IO, Dict, Optional, Sequence, Tuple
from urllib.parse import parse_qs

from .config import DEFAULT_CONCURRENCY, BridgeOptions, redact_url
from .health import ERROR, NOTICE, WARNING, Event
from .logtext import MAX_LINE, loggable
from .render.prometheus import CONTENT_TYPE, render_prometheus
from .runtime import Runtime, bridge_labels

TIMEOUT_HEADER = "X-Prometheus-Scrape-Timeout-Seconds"
# Left for rendering and sending, so our answer arrives before Prometheus gives up.
TIMEOUT_MARGIN = 0.25
# A scrape timeout header outside this range is absurd (a client's mistake or an attack
# that would make the poll every concurrent scrape shares fail): it is ignored.
SANE_SCRAPE_TIMEOUT = (0.1, 86400.0)
TEXT = "text/plain; charset=utf-8"
# Health event level -> logfmt level, as Prometheus' own programs spell them.
LOG_LEVELS = {ERROR: "error", WARNING: "warn", NOTICE: "info"}


def log_line(stream: IO[str], level: str, message: str) -> None:
    """One logfmt line, the idiom of Prometheus' own programs and exporters."""
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
    quoted = loggable(message, MAX_LINE).replace("\\", "\\\\").replace('"', '\\"')
    stream.write(f'ts={stamp} level={level} msg="{quoted}"\n')
    stream.flush()


def scrape_cap(header: Optional[str]) -> Optional[float]:
    """The poll timeout Prometheus' scrape timeout header allows, or None to keep the
    configured one (no header, or an absurd value)."""
    try:
        offered = float(header) if header else math.nan
    except ValueError:
        return None
    if not SANE_SCRAPE_TIMEOUT[0] <= offered <= SANE_SCRAPE_TIMEOUT[1]:  # NaN fails too
        return None
    return offered - TIMEOUT_MARGIN if offered > 2 * TIMEOUT_MARGIN else offered / 2


def scrape_budget(configured: float, header: Optional[str]) -> float:
    """The poll timeout for one scrape: the configured one, cut to fit Prometheus' own."""
    cap = scrape_cap(header)
    return configured if cap is None else min(configured, cap)


class Exporter:
    """The bridges' runtime and the HTTP server; ``start()`` serves in a thread, ``stop()`` ends it.

    Scraped and probe-only bridges share one runtime, so a /metrics and a /probe of the
    same bridge at the same time share one poll.
    """

    def __init__(self, bridges: Sequence[BridgeOptions], host: str = "127.0.0.1", port: int = 0,
                 named: bool = False, legacy_names: bool = False,
                 probe_only: Sequence[BridgeOptions] = (), log: IO[str] = sys.stderr,
                 concurrency: int = DEFAULT_CONCURRENCY) -> None:
        self.log = log
        self.scraped = tuple(range(len(bridges)))
        self.labels = bridge_labels(bridges, named)
        self.runtime = Runtime(list(bridges) + list(probe_only), legacy_names=legacy_names,
                               report=self._report, concurrency=concurrency)
        # /probe?target= takes a bridge's name or URL (without credentials).
        self.probe_targets: Dict[str, int] = {}
        for index, bridge in enumerate(self.runtime.bridges):
            self.probe_targets.setdefault(bridge.name, index)
            self.probe_targets.setdefault(bridge.url, index)
        self._active = 0
        self._idle = threading.Condition()
        try:
            self.httpd = _make_server(host, port, self)
        except BaseException:
            self.runtime.close()
            raise
        self._thread: Optional[threading.Thread] = None

    def _report(self, bridge: str, event: Event) -> None:
        log_line(self.log, LOG_LEVELS[event.level], event.message)

    @property
    def address(self) -> Tuple[str, int]:
        host, port = self.httpd.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def metrics(self, timeout_header: Optional[str]) -> str:
        results = self.runtime.poll(scrape_cap(timeout_header), self.scraped)
        return render_prometheus(self.runtime.combined(results, self.labels))

    def probe(self, target: int, timeout_header: Optional[str]) -> str:
        result = self.runtime.poll_bridge(target, scrape_cap(timeout_header))
        return render_prometheus(self.runtime.combined([result], [()]))

    def start(self, poll_interval: float = 0.5) -> "Exporter":
        """Serve in a thread; ``stop()`` may wait up to ``poll_interval`` for it to notice."""
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(poll_interval,),
                                        name="jitsi-exporter", daemon=True)
        self._thread.start()
        return self

    def stop(self, grace: float = 2.0) -> None:
        """Stop accepting, give requests in progress ``grace`` seconds, close everything."""
        self.httpd.shutdown()
        deadline = time.monotonic() + grace
        with self._idle:
            while self._active and time.monotonic() < deadline:
                self._idle.wait(deadline - time.monotonic())
        self.httpd.server_close()
        self.runtime.close()

    def busy(self, delta: int) -> None:
        with self._idle:
            self._active += delta
            if not self._active:
                self._idle.notify_all()


def _make_server(host: str, port: int, exporter: Exporter) -> ThreadingHTTPServer:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if host == "":
        # ":9888" means every interface, IPv6 included, as in the Go exporter.
        family, host = (socket.AF_INET6, "::") if socket.has_ipv6 else (socket.AF_INET, "0.0.0.0")

    class Server(ThreadingHTTPServer):
        address_family = family
        daemon_threads = True  # an idle keep-alive connection must not hold up shutdown

        def server_bind(self) -> None:
            if self.address_family == socket.AF_INET6:
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            super().server_bind()

    server = Server((host, port), Handler)
    server.exporter = exporter  # type: ignore[attr-defined]
    return server


def landing_page(exporter: Exporter) -> str:
    names = sorted({exporter.runtime.bridges[i].name for i in exporter.probe_targets.values()})
    items = "".join(
        f'<li><a href="/probe?target={html.escape(n, quote=True)}">{html.escape(n)}</a></li>' for n in names
    )
    return (
        "<!DOCTYPE html><html><head><title>Jitsi Meet exporter</title></head><body>"
        "<h1>Jitsi Meet exporter</h1><p><a href=\"/metrics\">Metrics</a> of every configured bridge"
        " &middot; <a href=\"/health\">Health</a></p>"
        f"<p>Probe targets:</p><ul>{items}</ul></body></html>\n"
    )


def probe_target(exporter: Exporter, query: str) -> Tuple[Optional[int], int, str]:
    """The bridge (runtime index) a /probe query names, or the status and message refusing it."""
    try:
        params = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        return None, 400, f"Query {loggable(repr(redact_url(query)))} cannot be parsed; use /probe?target=NAME\n"
    unknown = sorted(set(params) - {"target"})
    if unknown:
        return None, 400, f"Unknown parameter {loggable(repr(unknown[0]))}; /probe takes only target=NAME\n"
    values = params.get("target", [])
    if len(values) != 1 or not values[0]:
        return None, 400, "Give exactly one target: /probe?target=NAME\n"
    target = exporter.probe_targets.get(values[0])
    if target is None:
        return None, 404, (
            f"Target {loggable(repr(redact_url(values[0])))} is neither a configured bridge name or URL"
            " nor on the probe allow-list;"
            " add it with --url or --probe-allow (the exporter fetches no other URL)\n"
        )
    return target, 200, ""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: Prometheus reuses its connection
    # Without this, headers and body leave in two segments and delayed ACK adds
    # about 40 ms to every scrape.
    disable_nagle_algorithm = True
    server_version = "jitsi-meet-metrics"
    sys_version = ""

    def log_message(self, format: str, *args: object) -> None:
        pass  # no access log: one line per scrape would drown the bridge events

    def _reply(self, status: int, ctype: str, body: str, head: bool = False, extra: str = "") -> None:
        # One write for status line, headers and body: one segment per answer.
        data = body.encode("utf-8")
        reason = self.responses.get(status, ("",))[0]
        top = (
            f"HTTP/1.1 {status} {reason}\r\nServer: {self.server_version}\r\n"
            f"Date: {self.date_time_string()}\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(data)}\r\n{extra}"
        )
        if self.close_connection:
            top += "Connection: close\r\n"
        self.wfile.write((top + "\r\n").encode("latin-1") + (b"" if head else data))

    def do_GET(self, head: bool = False) -> None:
        exporter: Exporter = self.server.exporter  # type: ignore[attr-defined]
        exporter.busy(1)
        try:
            self._route(exporter, head)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # Prometheus gave up on this scrape
        except Exception as exc:  # a bug: say so in one line, answer 500, keep serving
            log_line(exporter.log, "error", f"{self.command} {self.path!r} failed: {exc!r}; answered HTTP 500")
            self.close_connection = True
            self._reply(500, TEXT, "Internal error; see the exporter's log\n", head)
        finally:
            exporter.busy(-1)

    def do_HEAD(self) -> None:
        self.do_GET(head=True)

    def _route(self, exporter: Exporter, head: bool) -> None:
        path, _, query = self.path.partition("?")
        if path == "/metrics":
            self._reply(200, CONTENT_TYPE, exporter.metrics(self.headers.get(TIMEOUT_HEADER)), head)
        elif path == "/probe":
            target, status, message = probe_target(exporter, query)
            if target is None:
                self._reply(status, TEXT, message, head)
            else:
                self._reply(200, CONTENT_TYPE, exporter.probe(target, self.headers.get(TIMEOUT_HEADER)), head)
        elif path == "/health":
            self._reply(200, TEXT, "ok", head)
        elif path == "/":
            self._reply(200, "text/html; charset=utf-8", landing_page(exporter), head)
        else:
            self._reply(404, TEXT, f"Not found: {path!r}; try /metrics, /probe?target=NAME or /health\n", head)

    def _refuse(self) -> None:
        self.close_connection = True  # the request body, if any, is left unread
        self._reply(405, TEXT, f"Method {self.command} not allowed; use GET or HEAD\n", extra="Allow: GET, HEAD\r\n")

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse


__all__ = ["CONTENT_TYPE", "Exporter", "Handler", "log_line", "scrape_budget", "scrape_cap"]
