"""Renderers: samples in, text out. Each owns its escaping and number formatting."""
from __future__ import annotations

from typing import Iterable, Optional

from ..samples import Sample

FORMATS = ("prometheus", "influx")


def render(samples: Iterable[Sample], fmt: str, timestamp_ns: Optional[int] = None) -> str:
    """``fmt`` is one of FORMATS; the timestamp only goes into line protocol."""
    if fmt == "influx":
        from .influx import render_influx

        return render_influx(samples, timestamp_ns)
    from .prometheus import render_prometheus

    return render_prometheus(samples)
