"""Renderers: families in, text out. Each owns its escaping and number formatting.

Pass families merged by name (``samples.merge_families``): a renderer writes what it is
given, in order, one header per family.
"""
from __future__ import annotations

from typing import Iterable, List, Optional, Set, Tuple

from ..samples import Family, Labels

FORMATS = ("prometheus", "influx")


def one_of_each_name(labels: Labels) -> Labels:
    """``labels`` with each name once, its first value kept.

    A backstop: the parser and mappers already keep a bridge's labels apart from ours,
    but one repeated name makes Prometheus reject the whole scrape (every bridge lost)
    and Influx store a point no query can read.
    """
    if len(labels) < 2:
        return labels
    names = {name for name, _ in labels}
    if len(names) == len(labels):
        return labels
    seen: Set[str] = set()
    kept: List[Tuple[str, str]] = []
    for name, value in labels:
        if name not in seen:
            seen.add(name)
            kept.append((name, value))
    return tuple(kept)


def render(
    families: Iterable[Family], fmt: str, timestamp_ns: Optional[int] = None,
    timestamp_ms: Optional[int] = None, headers: bool = True,
) -> str:
    """``fmt`` is one of FORMATS. ``timestamp_ns`` goes into line protocol only;
    ``timestamp_ms`` (a timestamp on every sample line) and ``headers`` (False: no
    ``# HELP``/``# TYPE`` lines) into the Prometheus text only."""
    if fmt == "influx":
        from .influx import render_influx

        return render_influx(families, timestamp_ns)
    from .prometheus import render_prometheus

    return render_prometheus(families, timestamp_ms=timestamp_ms, headers=headers)
