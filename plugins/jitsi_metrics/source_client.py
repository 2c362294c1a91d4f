"""The runtime's client for one configured URL, whatever Jitsi source it names.

- ``…/colibri/stats`` (or any other path): read as JVB /colibri/stats, as always.
- ``…/metrics``: JVB's or Jicofo's /metrics, asked with a text Accept header (JVB answers
  HTTP 500 without one); which of the two is told from each answer.
- ``…/stats``: Jicofo's /stats.
- a base URL (``http://host:8080``, ``http://host:8888``): discovered at the first poll
  (probe.discover: /about/version, then /colibri/stats, /metrics, /stats); the best source
  that answers is used, /colibri/stats when the REST API is on, else /metrics, and one
  news line says which. When that endpoint stops answering, the next poll discovers again.
  A bridge read through /colibri/stats also has its /metrics read, for what only /metrics
  gives (the conference histograms, JVM figures).

``fetch`` returns a ``Fetched`` (or, for /colibri/stats, the payload as BridgeClient gives
it); runtime.map_bridge maps either. An answer that is another source than configured is
read as what it is, so Jicofo's numbers keep their jitsi_jicofo_* names, with one warning
line (detect.mismatch); an answer that is no source at all fails the poll with the line
detect.classify gives for it.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Union
from urllib.parse import urlsplit

from . import probe
from .config import BridgeOptions
from .detect import (
    JICOFO_METRICS,
    JICOFO_STATS,
    JVB_COLIBRI,
    JVB_METRICS,
    METRICS_PATH,
    STATS_OFF_EMPTY,
    UNRECOGNISED,
    VERSION_PATH,
    Answer,
    Component,
    classify,
    classify_object,
    is_base_url,
    mismatch,
    parse_about_version,
)
from .fetch import BridgeClient, FetchConnectionError, FetchError, FetchStatusError, FetchTimeout
from .logtext import loggable
from .sources import accept_header

Payload = Dict[str, Any]
# What a /metrics URL may be: either component's.
METRICS_SOURCES = (JVB_METRICS, JICOFO_METRICS)


class FetchNoSource(FetchError):
    """Something answered, but no statistics source: an HTML page, rtcstats, REST API off …"""

    cause = "no source"


class Fetched(NamedTuple):
    """One poll's answer of a source other than plain /colibri/stats."""

    source: str  # detect.JVB_COLIBRI, JVB_METRICS, JICOFO_STATS or JICOFO_METRICS
    answer: Optional[Answer]  # None when ``payload`` holds the parsed /colibri/stats object
    payload: Optional[Payload] = None
    extra: Optional[Answer] = None  # the /metrics answer of a bridge read through /colibri/stats
    note: str = ""  # the mismatch line, "" when the answer is what was configured


def expected_source(path: str) -> Optional[str]:
    """The source a URL path names; None for a base URL (discovered) or /metrics (either component)."""
    if is_base_url(path) or path.rstrip("/").endswith(METRICS_PATH):
        return None
    if path.rstrip("/").endswith("/stats") and not path.rstrip("/").endswith("/colibri/stats"):
        return JICOFO_STATS
    return JVB_COLIBRI


ClientFactory = Callable[..., Any]
# (url, options, deadline): probe.discover's signature.
Discover = Callable[[str, BridgeOptions, float], probe.Discovery]


class SourceClient:
    """Polls one configured URL; ``take_news()`` hands the runtime the lines to log once."""

    def __init__(self, options: BridgeOptions, client_factory: ClientFactory = BridgeClient,
                 discover: Discover = probe.discover) -> None:
        self.options = options
        self._factory = client_factory
        self._discover_fn = discover
        self._path = urlsplit(options.url).path
        self.base = is_base_url(self._path)
        self.source: Optional[str] = None if self.base else expected_source(self._path)
        self._client: Any = None
        self._extra: Any = None  # /metrics beside /colibri/stats
        self._component: Optional[Component] = None
        self._asked_version = False
        self._news: List[str] = []
        self._closed = False
        self._deadline = 0.0  # of the poll in progress (time.monotonic())
        self._seconds = options.timeout  # that poll's whole budget, for messages
        if not self.base:
            self._client = client_factory(options, accept=accept_header(self._path))

    # -- the runtime's interface ------------------------------------------------------

    def fetch(self, timeout: Optional[float] = None) -> Union[Payload, Fetched]:
        """One poll; ``timeout`` (default: the configured one) is the TOTAL of all its
        requests: discovery, /about/version, the endpoint and /metrics beside it share one
        deadline, and the poll stops with a FetchTimeout once it is spent."""
        if self._closed:
            raise FetchConnectionError(self.options.name, self.options.url, "closed: this front end is stopping")
        self._seconds = self.options.timeout if timeout is None else timeout
        self._deadline = time.monotonic() + self._seconds
        if self._client is None:
            self._discover()
        try:
            return self._read()
        except FetchError:
            if self.base:
                self._forget()  # discover again at the next poll
            raise

    def take_news(self) -> List[str]:
        news, self._news = self._news, []
        return news

    def close(self) -> None:
        self._closed = True
        self._close_clients()

    def _close_clients(self) -> None:
        for client in (self._client, self._extra):
            if client is not None:
                client.close()

    # -- reading -----------------------------------------------------------------------

    def _read(self) -> Union[Payload, Fetched]:
        source = self.source
        if source == JVB_COLIBRI:
            return self._read_colibri()
        answer, reason = self._client.fetch_answer(self._left("the answer of " + self._endpoint_path()))
        if not 200 <= answer.status < 300:
            raise self._refused(answer, reason)
        verdict = classify(self._endpoint_path(), answer, self._component)
        if verdict.source is None:
            raise FetchNoSource(self.options.name, self._endpoint_url(), loggable(verdict.message))
        wanted = source or (verdict.source if verdict.source in METRICS_SOURCES else JVB_METRICS)
        return Fetched(verdict.source, answer, note=mismatch(wanted, verdict))

    def _read_colibri(self) -> Union[Payload, Fetched]:
        try:
            payload: Payload = self._client.fetch(self._left("the answer of " + self._endpoint_path()))
        except FetchStatusError as error:
            if error.status == 404:
                # A JVB with its REST API off, the default: say so, and that /metrics works.
                verdict = classify(self._endpoint_path(), Answer(404, "", b""), self._version())
                raise FetchStatusError(error.bridge, error.url, loggable(verdict.message), 404) from None
            raise
        verdict = classify_object(self._endpoint_path(), payload, None)
        if verdict.source is None and verdict.problem not in (STATS_OFF_EMPTY, UNRECOGNISED):
            # rtcstats or /about/version: no statistics at all. ({} and unknown keys are the
            # core's to judge, field by field, as always.)
            raise FetchNoSource(self.options.name, self._endpoint_url(), loggable(verdict.message))
        if verdict.source in (JICOFO_STATS, JICOFO_METRICS, JVB_METRICS):
            # Read it as what it is, so Jicofo's numbers keep their jitsi_jicofo_* names.
            return Fetched(verdict.source, None, payload, note=mismatch(JVB_COLIBRI, verdict))
        extra = self._read_extra()
        if extra is None:
            return payload
        return Fetched(JVB_COLIBRI, None, payload, extra)

    def _read_extra(self) -> Optional[Answer]:
        if self._extra is None:
            return None
        try:
            answer, _ = self._extra.fetch_answer(self._deadline - time.monotonic())
        except FetchError:
            return None  # /colibri/stats answered; what only /metrics adds is missing this poll
        return answer if answer.status == 200 else None

    def _refused(self, answer: Answer, reason: str) -> FetchError:
        verdict = classify(self._endpoint_path(), answer, self._component)
        if verdict.problem:
            return FetchStatusError(self.options.name, self._endpoint_url(), loggable(verdict.message), answer.status)
        return self._client.status_error(answer, reason)  # type: ignore[no-any-return]

    def _version(self) -> Optional[Component]:
        """What /about/version says, asked once per client (only when a 404 needs explaining)."""
        if not self._asked_version:
            self._asked_version = True
            try:
                self._component = parse_about_version(probe.get(probe.with_path(self._origin(), VERSION_PATH),
                                                                self.options, self._deadline))
            except probe.ProbeError:
                self._component = None
        return self._component

    # -- discovery ---------------------------------------------------------------------

    def _discover(self) -> None:
        try:
            found = self._discover_fn(self.options.url, self.options, self._deadline)
        except probe.ProbeError as exc:
            if exc.kind == probe.TIMEOUT:
                raise FetchTimeout(self.options.name, self.options.url,
                                   loggable(f"discovery not done within {_secs(self._seconds)} s, waiting for "
                                            f"{exc.reason} (timeout)")) from None
            raise FetchConnectionError(self.options.name, self.options.url,
                                       loggable(f"cannot connect: {exc.reason}")) from None
        self._component = found.component
        self._asked_version = True
        summary = found.summary(self.options.name)
        if found.chosen is None:
            raise FetchNoSource(self.options.name, self.options.url, loggable(summary.split(": ", 1)[-1]))
        chosen = found.chosen
        self.source = chosen.verdict.source
        self._client = self._factory(dataclasses.replace(self.options, url=chosen.url),
                                     accept=accept_header(chosen.path))
        if self.source == JVB_COLIBRI:
            metrics = next((p for p in found.probed if p.verdict.source == JVB_METRICS), None)
            url = metrics.url if metrics is not None else probe.with_path(self._origin(), METRICS_PATH)
            if metrics is not None or self._serves_metrics(url):
                self._extra = self._factory(dataclasses.replace(self.options, url=url), accept=accept_header(url))
        self._news.append(summary)

    def _serves_metrics(self, url: str) -> bool:
        try:
            answer = probe.get(url, self.options, self._deadline)
        except probe.ProbeError:
            return False
        return classify(METRICS_PATH, answer, self._component).source == JVB_METRICS

    def _forget(self) -> None:
        """A base URL's endpoint stopped answering: the next poll discovers again."""
        self._close_clients()
        self._client = self._extra = None
        self.source = None

    # -- helpers -----------------------------------------------------------------------

    def _left(self, what: str) -> float:
        """Seconds left of this poll's deadline; a FetchTimeout naming ``what`` once none are."""
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise FetchTimeout(self.options.name, self.options.url,
                               f"no time was left for {loggable(what, 80)} within {_secs(self._seconds)} s (timeout)")
        return left

    def _origin(self) -> str:
        parts = urlsplit(self.options.url)
        return f"{parts.scheme}://{parts.netloc}"

    def _endpoint_url(self) -> str:
        return str(self._client.options.url) if self._client is not None else self.options.url

    def _endpoint_path(self) -> str:
        return urlsplit(self._endpoint_url()).path


def _secs(seconds: float) -> str:
    """A budget for a log line: the runtime hands a poll the time left of its timeout, a
    hair under the configured figure the user knows."""
    return f"{round(seconds, 2):g}"


__all__ = ["FetchNoSource", "Fetched", "SourceClient", "expected_source"]
