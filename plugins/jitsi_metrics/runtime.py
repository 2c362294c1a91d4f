"""The polling runtime every front end uses: a set of bridges, polled safely.

For its bridges a ``Runtime`` owns the clients, the per-bridge isolation of fetch
*and* map (any exception costs that bridge only, as ``jitsi_up 0`` and one error line
naming it), the timing, single-flight polling (concurrent callers of one bridge share
one poll, which is what the exporter's concurrent scrapes need), a bounded worker pool
and each bridge's health. Health news goes to the ``report`` callback once per poll,
from the thread that ran it; the front end prints it in its host's idiom.

Every bridge's client is a ``SourceClient``: its URL may name /colibri/stats, a JVB or
Jicofo /metrics, Jicofo /stats or just a base URL (source_client.py).

It is also the one place that calls the core: ``map_bridge`` maps a poll's answer,
``meta`` builds ``jitsi_up``/``jitsi_scrape_duration_seconds``, ``combined`` joins
the bridges' results for one render call and ``scrape`` runs poll, combine and render
in one go for a front end.
"""
from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

from .config import DEFAULT_CONCURRENCY, BridgeOptions
from .detect import JVB_COLIBRI, JVB_METRICS, Answer
from .fetch import FetchError, FetchTimeout
from .health import NOTICE, BridgeHealth, Event
from .jvb_metrics_map import supplement
from .logtext import MAX_LINE, loggable
from .mapping import map_payload, meta_families
from .render import render
from .samples import Family, Labels, merge_families
from .source_client import Fetched, SourceClient
from .source_result import as_output, points
from .sources import SourceError, map_answer, map_object
from .workers import DaemonPool

BRIDGE_LABEL = "bridge"
# A caller waits this much past its own deadline for the poll it leads or shares; a poll
# not done by then is timed out for that caller and its late result dropped.
FOLLOWER_GRACE = 0.25

Report = Callable[[str, Event], None]


class PollBug(FetchError):
    """An exception our own fetch or mapping code raised for one bridge's answer: a bug,
    caught so that it costs only that bridge."""

    cause = "bug"


class PollResult(NamedTuple):
    bridge: str
    families: List[Family]  # unlabelled; ``Runtime.combined`` adds the bridge label
    warnings: List[str]  # one per dropped field
    error: Optional[FetchError]

    @property
    def up(self) -> bool:
        return self.error is None


class Scrape(NamedTuple):
    """One cycle of ``Runtime.scrape``: the text to write and the results it was made from."""

    results: List[PollResult]
    text: str


def bridge_labels(bridges: Sequence[BridgeOptions], named: bool) -> List[Labels]:
    """A ``bridge`` label on every sample when there are several bridges or a name was
    given; a single unnamed bridge gets none, like the Go exporter."""
    if len(bridges) > 1 or named:
        return [((BRIDGE_LABEL, b.name),) for b in bridges]
    return [() for _ in bridges]


def map_bridge(fetched: Union[Dict[str, Any], Fetched], bridge: str,
               legacy_names: bool) -> Tuple[List[Family], List[str]]:
    """The core's mapping of one poll's answer, whatever its source: (families, warnings).

    A /colibri/stats payload goes through the core mapping; another source through
    sources.py. A bridge read through /colibri/stats gets from its /metrics only the
    families /colibri/stats lacks (jvb_metrics_map.supplement).
    """
    if isinstance(fetched, dict):
        mapped = map_payload(fetched, (), legacy_names=legacy_names)
        return mapped.families, mapped.warnings(bridge)
    note = [f'Bridge "{bridge}": {fetched.note}'] if fetched.note else []
    if fetched.source == JVB_COLIBRI:
        payload = fetched.payload if fetched.payload is not None else json_object(fetched.answer)
        mapped = map_payload(payload, (), legacy_names=legacy_names)
        families, warnings = mapped.families, mapped.warnings(bridge)
        if fetched.extra is not None:
            extra = map_answer(JVB_METRICS, fetched.extra)
            families = as_output(supplement(points(families), extra.samples))
        return families, note + warnings
    if fetched.payload is not None:
        source_mapped = map_object(fetched.source, fetched.payload)
    elif fetched.answer is not None:
        source_mapped = map_answer(fetched.source, fetched.answer)
    else:
        raise ValueError("a Fetched without an answer")
    return source_mapped.families, note + source_mapped.warnings(bridge)


def json_object(answer: Optional[Answer]) -> Dict[str, Any]:
    data = json.loads(answer.body) if answer is not None else None
    if not isinstance(data, dict):
        raise ValueError("the /colibri/stats answer is not a JSON object")
    return data


def meta(up: bool, seconds: float) -> List[Family]:
    return meta_families(up, seconds, ())


def poll_once(client: Any, legacy_names: bool = False, timeout: Optional[float] = None,
              clock: Callable[[], float] = time.perf_counter) -> PollResult:
    """Fetch and map one bridge; never raises."""
    options: BridgeOptions = client.options
    start = clock()
    try:
        fetched = client.fetch(timeout)
        try:
            families, warnings = map_bridge(fetched, options.name, legacy_names)
        except (SourceError, ValueError) as exc:  # an answer that cannot be read as its source
            raise FetchError(options.name, options.url, loggable(str(exc))) from None
    except FetchError as error:
        return PollResult(options.name, meta(False, clock() - start), [], _detached(error))
    except Exception as exc:  # a bug in fetch or map must cost this bridge only
        reason = loggable(f"unexpected {type(exc).__name__}: {exc}")
        bug = PollBug(options.name, options.url, f"{reason}; a bug in jitsi-meet-metrics, please report it")
        return PollResult(options.name, meta(False, clock() - start), [], bug)
    return PollResult(options.name, meta(True, clock() - start) + families, warnings, None)


def _detached(error: FetchError) -> FetchError:
    """``error`` without its traceback and the exceptions it was raised while handling.

    A PollResult outlives its poll; through them its error would hold the poll's frames
    and their locals (the response, a body up to the size cap) in a reference cycle
    (frame -> caller's frame -> result -> error -> traceback) that only the cyclic
    GC's rare full pass frees. Only ``str(error)`` and ``cause`` are ever used.
    """
    error.__traceback__ = None
    error.__context__ = error.__cause__ = None
    return error


class _Flight:
    """One poll of one bridge in progress, which other callers may wait for."""

    __slots__ = ("abandoned", "deadline", "done", "followers", "result", "timeout")

    def __init__(self, deadline: float, timeout: float) -> None:
        self.deadline = deadline
        self.timeout = timeout  # the seconds the leading caller gave it, for messages
        self.done = threading.Event()
        self.followers = 0
        self.result: Optional[PollResult] = None
        self.abandoned = False  # a caller gave up on it: its result, when it comes, is dropped


def _ignore(bridge: str, event: Event) -> None:
    pass


class Runtime:
    """The bridges of one front end; ``poll()`` polls them all, ``close()`` ends it all."""

    def __init__(self, bridges: Sequence[BridgeOptions], named: bool = False, legacy_names: bool = False,
                 report: Report = _ignore, concurrency: int = DEFAULT_CONCURRENCY,
                 client_factory: Callable[[BridgeOptions], Any] = SourceClient) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency {concurrency!r} must be at least 1")
        self.bridges = tuple(bridges)
        self.labels = bridge_labels(self.bridges, named)
        self.legacy_names = legacy_names
        self.concurrency = concurrency
        self._report = report
        self._health = [BridgeHealth(b.name) for b in self.bridges]
        self._lock = threading.Lock()
        self._flights: Dict[int, _Flight] = {}
        self._executor: Optional[DaemonPool] = None
        self._closed = False
        self._clients: List[Any] = []
        try:
            for bridge in self.bridges:
                self._clients.append(client_factory(bridge))
        except BaseException:
            self.close()
            raise

    @property
    def clients(self) -> List[Any]:
        return self._clients

    def poll(self, cap: Optional[float] = None, indexes: Optional[Sequence[int]] = None) -> List[PollResult]:
        """Every bridge (or those of ``indexes``) once, at most ``concurrency`` at a time;
        results in the same order.

        ``cap`` shortens each bridge's configured timeout (the exporter's scrape budget).
        Every bridge's time starts now, not when a worker is free for it: a bridge still
        waiting for a worker when its time is up is timed out at once, and no bridge is
        waited for longer than its timeout plus FOLLOWER_GRACE, so a cycle lasts at most
        the longest timeout (and the grace) however many bridges hang, and however they hang.
        """
        if indexes is None:
            indexes = range(len(self.bridges))
        start = time.monotonic()
        budgets = [(i, start + t, t) for i, t in ((i, self._timeout(i, cap)) for i in indexes)]
        joined = [self._join(i, deadline, t) for i, deadline, t in budgets]  # all started before any is waited for
        return [self._finish(i, deadline, t, *flight) for (i, deadline, t), flight in zip(budgets, joined)]

    def poll_bridge(self, index: int, cap: Optional[float] = None) -> PollResult:
        """One bridge, shared with any caller already polling it."""
        return self.poll(cap, (index,))[0]

    def _timeout(self, index: int, cap: Optional[float]) -> float:
        configured = self.bridges[index].timeout
        return configured if cap is None else min(configured, cap)

    def _join(self, index: int, deadline: float, timeout: float) -> Tuple[Optional[_Flight], bool]:
        """(the poll of bridge ``index`` this caller waits for, whether it leads it): the
        poll in flight, or one started now on a worker; (None, False) when one is in
        flight and this caller has no time left to wait for it."""
        with self._lock:
            flight = self._flights.get(index)
            if flight is not None:
                if deadline <= time.monotonic():
                    return None, False
                flight.followers += 1
                return flight, False
            flight = self._flights[index] = _Flight(deadline, timeout)
        pool = self._pool()
        try:
            if pool is not None:
                pool.submit(self._lead, index, flight)
                return flight, True
        except RuntimeError:  # closed meanwhile
            pass
        self._lead(index, flight)  # closed: the clients fail fast, no thread needed
        return flight, True

    def _finish(self, index: int, deadline: float, timeout: float, flight: Optional[_Flight],
                leads: bool) -> PollResult:
        """The result of ``flight`` for a caller whose time ends at ``deadline``
        (``timeout`` seconds after it asked).

        A caller that joined a poll in flight never inherits a shorter deadline than its
        own: if that poll timed out before this caller's deadline, it polls again with the
        time it has left. A poll not done by the deadline plus FOLLOWER_GRACE is timed out
        for this caller; the first caller to give up on it reports that, and the poll's
        own result is dropped when it comes.
        """
        while True:
            if flight is None:  # no time to wait; the poll's leader reports how it ends
                return self._timed_out(index, timeout, "no time was left to wait for the poll in flight")
            finished = flight.done.wait(max(deadline - time.monotonic(), 0.0) + FOLLOWER_GRACE)
            with self._lock:
                if not leads:
                    flight.followers -= 1
                result = flight.result
                report = result is None and not flight.abandoned
                if result is None:
                    flight.abandoned = True
            if not finished or result is None:
                what = "no complete answer" if leads else "the poll in flight did not finish"
                missed = self._timed_out(index, timeout, what)
                if report:
                    self._report_health(index, missed)
                return missed
            shorter = flight.deadline < deadline - 0.001 and isinstance(result.error, FetchTimeout)
            if not (shorter and deadline - time.monotonic() > 0.001):
                return result
            flight, leads = self._join(index, deadline, timeout)

    def scrape(self, fmt: str = "prometheus", cap: Optional[float] = None, indexes: Optional[Sequence[int]] = None,
               labels: Optional[Sequence[Labels]] = None, timestamp_ns: Optional[int] = None,
               timestamp_ms: Optional[int] = None, headers: bool = True) -> Scrape:
        """The cycle every front end runs: ``poll(cap, indexes)``, ``combined`` with
        ``labels``, then rendered in ``fmt`` (render.render's options)."""
        results = self.poll(cap, indexes)
        text = render(self.combined(results, labels), fmt, timestamp_ns=timestamp_ns, timestamp_ms=timestamp_ms,
                      headers=headers)
        return Scrape(results, text)

    def followers(self, index: int) -> int:
        """Callers now waiting for the poll of bridge ``index`` in flight (0 when none runs)."""
        with self._lock:
            flight = self._flights.get(index)
            return flight.followers if flight is not None else 0

    def combined(self, results: Sequence[PollResult], labels: Optional[Sequence[Labels]] = None) -> List[Family]:
        """The families of ``results`` merged for one render call, each bridge's samples
        with its labels: those of ``labels`` in the same order, by default the runtime's own."""
        labels = self.labels if labels is None else labels
        return merge_families([f.with_labels(extra) for f in r.families] for r, extra in zip(results, labels))

    def close(self) -> None:
        """Closes every client; threads of this runtime end once their poll does."""
        with self._lock:  # a poll() building its pool now either sees _closed or hands us the pool
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown()
        for client in self._clients:
            client.close()

    def __enter__(self) -> "Runtime":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _pool(self) -> Optional[DaemonPool]:
        """The worker pool (daemon threads: a poll stuck in a bridge never holds up the
        process's exit), created at the first poll; None once closed, checked under the
        lock close() takes."""
        with self._lock:
            if self._closed:
                return None
            if self._executor is None:
                workers = min(self.concurrency, len(self.bridges))
                self._executor = DaemonPool(workers, "jitsi-poll")
            return self._executor

    def _lead(self, index: int, flight: _Flight) -> None:
        """Poll bridge ``index`` with the time left before ``flight.deadline`` and report the
        health news, unless a caller gave up on it meanwhile (then it reported the timeout);
        with no time left (it waited for a worker) it is timed out at once."""
        bridge = self.bridges[index]
        try:
            client = self._clients[index]
            left = flight.deadline - time.monotonic()
            if left > 0:
                result = poll_once(client, self.legacy_names, left)
            else:
                result = self._timed_out(index, flight.timeout, "no time was left to poll it")
            with self._lock:
                dropped = flight.abandoned
                if not dropped:
                    flight.result = result
            # News of the client itself, once: which endpoint a base URL was found to serve.
            for line in getattr(client, "take_news", list)():
                self._report(result.bridge, Event(NOTICE, loggable(line, MAX_LINE)))
            if not dropped:
                self._report_health(index, result)
        except Exception as exc:  # a bug in reporting: say so, never leave callers waiting
            error = PollBug(bridge.name, bridge.url, loggable(f"unexpected {type(exc).__name__}: {exc}"))
            with self._lock:
                if flight.result is None and not flight.abandoned:
                    flight.result = PollResult(bridge.name, meta(False, 0.0), [], error)
        finally:
            with self._lock:
                if self._flights.get(index) is flight:
                    del self._flights[index]
            flight.done.set()

    def _report_health(self, index: int, result: PollResult) -> None:
        for event in self._health[index].update(result.error, result.warnings):
            self._report(result.bridge, event)

    def _timed_out(self, index: int, seconds: float, what: str) -> PollResult:
        bridge = self.bridges[index]
        reason = f"{what} within {seconds:g} s (timeout)"
        return PollResult(bridge.name, meta(False, seconds), [], FetchTimeout(bridge.name, bridge.url, reason))


__all__ = ["BRIDGE_LABEL", "DEFAULT_CONCURRENCY", "PollBug", "PollResult", "Runtime", "Scrape", "bridge_labels",
           "poll_once"]
