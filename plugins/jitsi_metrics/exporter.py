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

The HTTP layer is ``httpserver``: a capped number of connections, timeouts for idle and
slow clients, strict request framing; /health and / are answered even while every
worker waits on a bridge.
"""
from __future__ import annotations

import html
import math
import sys
import time
from typing import IO, Dict, Optional, Sequence, Tuple
from urllib.parse import parse_qs

from .config import DEFAULT_CONCURRENCY, BridgeOptions, redact_url
from .health import ERROR, NOTICE, WARNING, Event
from .httpserver import HttpServer, Limits
from .httpwire import Request, Response
from .logtext import MAX_LINE, loggable
from .render.prometheus import CONTENT_TYPE
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
# Answered on the server's loop thread: they never touch a bridge, so they answer even
# while every worker waits on one.
QUICK_PATHS = ("/health", "/")


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


class Exporter:
    """The bridges' runtime and the HTTP server; ``start()`` serves in a thread, ``stop()`` ends
    it (or ``with Exporter(...) as exporter:`` for a block).

    Scraped and probe-only bridges share one runtime, so a /metrics and a /probe of the
    same bridge at the same time share one poll.
    """

    def __init__(self, bridges: Sequence[BridgeOptions], host: str = "127.0.0.1", port: int = 0,
                 named: bool = False, legacy_names: bool = False,
                 probe_only: Sequence[BridgeOptions] = (), log: IO[str] = sys.stderr,
                 concurrency: int = DEFAULT_CONCURRENCY, limits: Optional[Limits] = None) -> None:
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
        try:
            self.httpd = HttpServer(lambda request: answer(self, request), host, port, limits or Limits(),
                                    QUICK_PATHS, lambda level, message: log_line(log, level, message))
        except BaseException:
            self.runtime.close()
            raise

    def _report(self, bridge: str, event: Event) -> None:
        log_line(self.log, LOG_LEVELS[event.level], event.message)

    @property
    def address(self) -> Tuple[str, int]:
        return self.httpd.address

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def metrics(self, timeout_header: Optional[str]) -> str:
        return self.runtime.scrape(cap=scrape_cap(timeout_header), indexes=self.scraped, labels=self.labels).text

    def probe(self, target: int, timeout_header: Optional[str]) -> str:
        return self.runtime.scrape(cap=scrape_cap(timeout_header), indexes=[target], labels=[()]).text

    def start(self) -> "Exporter":
        """Serve in a thread."""
        self.httpd.start("jitsi-exporter")
        return self

    def stop(self, grace: float = 2.0) -> None:
        """Stop accepting, give requests in progress ``grace`` seconds, close everything."""
        self.httpd.stop(grace)
        self.runtime.close()

    def __enter__(self) -> "Exporter":
        """``with Exporter(...) as exporter:`` serves for the block, then stops."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


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


# Methods http.server used to answer 405 (others got 501); kept so status codes do not change.
_NOT_ALLOWED = ("POST", "PUT", "DELETE", "PATCH", "OPTIONS")


def answer(exporter: Exporter, request: Request) -> Response:
    """The application behind the HTTP server: one request in, one response out."""
    if request.method not in ("GET", "HEAD"):
        method = request.method[:20]
        if request.method in _NOT_ALLOWED:
            return Response(405, TEXT, f"Method {method} not allowed; use GET or HEAD\n".encode(),
                            (("Allow", "GET, HEAD"),))
        return Response(501, TEXT, f"Method {method!r} not implemented; use GET or HEAD\n".encode())
    path = request.path
    if path == "/metrics":
        timeout = request.headers.get(TIMEOUT_HEADER.lower())
        return Response(200, CONTENT_TYPE, exporter.metrics(timeout).encode("utf-8"))
    if path == "/probe":
        target, status, message = probe_target(exporter, request.query)
        if target is None:
            return Response(status, TEXT, message.encode("utf-8"))
        timeout = request.headers.get(TIMEOUT_HEADER.lower())
        return Response(200, CONTENT_TYPE, exporter.probe(target, timeout).encode("utf-8"))
    if path == "/health":
        return Response(200, TEXT, b"ok")
    if path == "/":
        return Response(200, "text/html; charset=utf-8", landing_page(exporter).encode("utf-8"))
    return Response(404, TEXT, f"Not found: {path!r}; try /metrics, /probe?target=NAME or /health\n".encode("utf-8"))


__all__ = ["CONTENT_TYPE", "Exporter", "answer", "log_line", "scrape_cap"]
