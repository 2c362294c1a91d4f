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
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Dict, List, Optional, Sequence, Tuple
from urllib.parse import parse_qs

from .config import BridgeOptions
from .fetch import BridgeClient, FetchTimeout
from .health import BridgeHealth
from .httpserver import HttpServer, Limits
from .httpwire import Request, Response
from .mapping import meta_samples
from .poll import PollResult, bridge_labels, poll_bridge
from .render.prometheus import CONTENT_TYPE, render_prometheus
from .samples import Labels, Sample

TIMEOUT_HEADER = "X-Prometheus-Scrape-Timeout-Seconds"
# Left for rendering and sending, so our answer arrives before Prometheus gives up.
TIMEOUT_MARGIN = 0.25
TEXT = "text/plain; charset=utf-8"
# Answered on the server's loop thread: they never touch a bridge, so they answer even
# while every worker waits on one.
QUICK_PATHS = ("/health", "/")


def log_line(stream: IO[str], level: str, message: str) -> None:
    """One logfmt line, the idiom of Prometheus' own programs and exporters."""
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
    quoted = message.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    stream.write(f'ts={stamp} level={level} msg="{quoted}"\n')
    stream.flush()


def scrape_budget(configured: float, header: Optional[str]) -> float:
    """The poll timeout for one scrape: the configured one, cut to fit Prometheus' own."""
    try:
        offered = float(header) if header else 0.0
    except ValueError:
        offered = 0.0
    if not offered > 0 or offered == float("inf"):
        return configured
    budget = offered - TIMEOUT_MARGIN if offered > 2 * TIMEOUT_MARGIN else offered / 2
    return min(configured, budget)


class _Flight:
    __slots__ = ("done", "result", "followers")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: Optional[PollResult] = None
        self.followers = 0  # scrapes waiting for this poll


class Target:
    """One bridge: its client, its health, and at most one poll in flight.

    A scrape that arrives while a poll of this bridge runs waits for that poll and
    shares its result, so N concurrent scrapes cost the bridge one request.
    """

    def __init__(self, options: BridgeOptions, legacy_names: bool, log: IO[str]) -> None:
        self.options = options
        self.client = BridgeClient(options)
        self.legacy_names = legacy_names
        self.health = BridgeHealth(options.name)
        self._log = log
        self._lock = threading.Lock()
        self._flight: Optional[_Flight] = None

    def poll(self, timeout: float) -> PollResult:
        with self._lock:
            flight, leader = self._flight, self._flight is None
            if leader:
                flight = self._flight = _Flight()
            else:
                flight.followers += 1  # type: ignore[union-attr]
        assert flight is not None
        if not leader:
            # The leader's fetch has its own deadline; a little grace covers mapping.
            if flight.done.wait(timeout + TIMEOUT_MARGIN) and flight.result is not None:
                return flight.result
            return self._failed(f"the poll in flight did not finish within {timeout:g} s (timeout)", timeout)
        try:
            flight.result = poll_bridge(self.client, (), self.legacy_names, timeout=timeout)
            lines = self.health.update(flight.result)
        finally:
            with self._lock:
                self._flight = None
            flight.done.set()
        for level, line in lines:
            log_line(self._log, level, line)
        return flight.result

    def followers(self) -> int:
        """Scrapes now waiting for the poll in flight (0 when none runs)."""
        with self._lock:
            return self._flight.followers if self._flight is not None else 0

    def _failed(self, reason: str, seconds: float) -> PollResult:
        error = FetchTimeout(self.options.name, self.options.url, reason)
        return PollResult(self.options.name, meta_samples(False, seconds), [], error)


class Exporter:
    """The targets and the HTTP server; ``start()`` serves in a thread, ``stop()`` ends it."""

    def __init__(self, bridges: Sequence[BridgeOptions], host: str = "127.0.0.1", port: int = 0,
                 named: bool = False, legacy_names: bool = False,
                 probe_only: Sequence[BridgeOptions] = (), log: IO[str] = sys.stderr,
                 limits: Optional[Limits] = None) -> None:
        self.log = log
        self.scraped = [Target(b, legacy_names, log) for b in bridges]
        self.labels = bridge_labels(bridges, named)
        self.probe_targets: Dict[str, Target] = {}
        for target in self.scraped + [Target(b, legacy_names, log) for b in probe_only]:
            self.probe_targets.setdefault(target.options.name, target)
            self.probe_targets.setdefault(target.options.url, target)
        self._pool = ThreadPoolExecutor(len(bridges), "jitsi-poll") if len(bridges) > 1 else None
        self.httpd = HttpServer(lambda request: answer(self, request), host, port, limits or Limits(), QUICK_PATHS,
                                lambda level, message: log_line(log, level, message))

    @property
    def address(self) -> Tuple[str, int]:
        return self.httpd.address

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def metrics(self, timeout_header: Optional[str]) -> str:
        targets = self.scraped
        budgets = [scrape_budget(t.options.timeout, timeout_header) for t in targets]
        if self._pool is None:
            results = [t.poll(b) for t, b in zip(targets, budgets)]
        else:
            results = list(self._pool.map(Target.poll, targets, budgets))
        samples: List[Sample] = []
        for result, labels in zip(results, self.labels):
            samples.extend(_labelled(result.samples, labels))
        return render_prometheus(samples)

    def probe(self, target: Target, timeout_header: Optional[str]) -> str:
        return render_prometheus(target.poll(scrape_budget(target.options.timeout, timeout_header)).samples)

    def start(self, poll_interval: float = 0.5) -> "Exporter":
        """Serve in a thread. ``poll_interval`` is no longer used (the server notices a
        stop at once); it stays so that existing callers keep working."""
        self.httpd.start("jitsi-exporter")
        return self

    def stop(self, grace: float = 2.0) -> None:
        """Stop accepting, give requests in progress ``grace`` seconds, close everything."""
        self.httpd.stop(grace)
        if self._pool is not None:
            self._pool.shutdown(wait=False)
        for target in set(self.probe_targets.values()):
            target.client.close()


def _labelled(samples: List[Sample], labels: Labels) -> List[Sample]:
    return [s.with_labels(labels) for s in samples] if labels else samples


def landing_page(exporter: Exporter) -> str:
    names = sorted({t.options.name for t in exporter.probe_targets.values()})
    items = "".join(
        f'<li><a href="/probe?target={html.escape(n, quote=True)}">{html.escape(n)}</a></li>' for n in names
    )
    return (
        "<!DOCTYPE html><html><head><title>Jitsi Meet exporter</title></head><body>"
        "<h1>Jitsi Meet exporter</h1><p><a href=\"/metrics\">Metrics</a> of every configured bridge"
        " &middot; <a href=\"/health\">Health</a></p>"
        f"<p>Probe targets:</p><ul>{items}</ul></body></html>\n"
    )


def probe_target(exporter: Exporter, query: str) -> Tuple[Optional[Target], int, str]:
    """The target a /probe query names, or the status and message refusing it."""
    try:
        params = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        return None, 400, f"Query {query!r} cannot be parsed; use /probe?target=NAME\n"
    unknown = sorted(set(params) - {"target"})
    if unknown:
        return None, 400, f"Unknown parameter {unknown[0]!r}; /probe takes only target=NAME\n"
    values = params.get("target", [])
    if len(values) != 1 or not values[0]:
        return None, 400, "Give exactly one target: /probe?target=NAME\n"
    target = exporter.probe_targets.get(values[0])
    if target is None:
        return None, 404, (
            f"Target {values[0]!r} is neither a configured bridge name or URL nor on the probe allow-list;"
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


__all__ = ["CONTENT_TYPE", "Exporter", "Target", "answer", "log_line", "scrape_budget"]
