"""Poll a set of bridges: fetch, map and time each one, concurrently.

Every front end calls this and gets, per bridge, its metric families (always
``jitsi_up`` and ``jitsi_scrape_duration_seconds``), the warnings about dropped fields
and the fetch error, if any. What to do with them is the front end's business.
"""
from __future__ import annotations

import time
from typing import Callable, List, NamedTuple, Optional, Sequence

from .config import BridgeOptions
from .fetch import BridgeClient, FetchError
from .mapping import map_payload, meta_families
from .samples import Family, Labels, merge_families

BRIDGE_LABEL = "bridge"


class PollResult(NamedTuple):
    bridge: str
    families: List[Family]
    warnings: List[str]
    error: Optional[FetchError]

    @property
    def up(self) -> bool:
        return self.error is None


def bridge_labels(bridges: Sequence[BridgeOptions], named: bool) -> List[Labels]:
    """A ``bridge`` label on every sample when there are several bridges or a name was
    given; a single unnamed bridge gets none, like the Go exporter."""
    if len(bridges) > 1 or named:
        return [((BRIDGE_LABEL, b.name),) for b in bridges]
    return [() for _ in bridges]


def poll_bridge(
    client: BridgeClient, labels: Labels, legacy_names: bool = False,
    clock: Callable[[], float] = time.perf_counter, timeout: Optional[float] = None,
) -> PollResult:
    name = client.options.name
    start = clock()
    try:
        payload = client.fetch(timeout)
    except FetchError as error:
        return PollResult(name, meta_families(False, clock() - start, labels), [], error)
    except Exception as exc:  # a bug here must cost this bridge only, never the others
        error = FetchError(name, client.options.url, f"unexpected {type(exc).__name__}: {exc}")
        return PollResult(name, meta_families(False, clock() - start, labels), [], error)
    mapped = map_payload(payload, labels, legacy_names=legacy_names)
    families = meta_families(True, clock() - start, labels) + mapped.families
    return PollResult(name, families, mapped.warnings(name), None)


class Poller:
    """The clients of a set of bridges, polled together; one thread per extra bridge."""

    def __init__(self, bridges: Sequence[BridgeOptions], named: bool = False, legacy_names: bool = False) -> None:
        self.bridges = tuple(bridges)
        self.clients = [BridgeClient(b) for b in self.bridges]
        self.labels = bridge_labels(self.bridges, named)
        self.legacy_names = legacy_names
        self._executor = None
        if len(self.bridges) > 1:
            # Imported here: a single bridge needs no threads, nor their memory.
            from concurrent.futures import ThreadPoolExecutor

            self._executor = ThreadPoolExecutor(max_workers=len(self.bridges), thread_name_prefix="jitsi-poll")

    def poll(self) -> List[PollResult]:
        if self._executor is None:
            return [poll_bridge(c, l, self.legacy_names) for c, l in zip(self.clients, self.labels)]
        futures = [
            self._executor.submit(poll_bridge, c, l, self.legacy_names) for c, l in zip(self.clients, self.labels)
        ]
        return [f.result() for f in futures]

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False)
        for client in self.clients:
            client.close()

    def __enter__(self) -> "Poller":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def all_families(results: Sequence[PollResult]) -> List[Family]:
    return merge_families(r.families for r in results)
