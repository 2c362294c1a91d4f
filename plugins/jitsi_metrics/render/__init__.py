"""Renderers: families in, text out. Each owns its escaping and number formatting.

Pass families merged by name (``samples.merge_families``): a renderer writes what it is
given, in order, one header per family.
"""
from __future__ import annotations

from typing import Iterable, Optional

from ..samples import Family

FORMATS = ("prometheus", "influx")


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
