"""jitsi-meet-metrics: Jitsi Videobridge statistics as metric samples.

The core maps a /colibri/stats payload to metric families and renders them; the front ends
(``jitsi-metrics telegraf``, the collectd plugin, the Prometheus exporter) wrap it.
"""
from __future__ import annotations

from .check import Problem
from .mapping import Mapped, map_payload, meta_families
from .render import render
from .samples import Family, Sample, merge_families

__version__ = "0.1.0"

__all__ = [
    "Family",
    "Mapped",
    "Problem",
    "Sample",
    "__version__",
    "map_payload",
    "merge_families",
    "meta_families",
    "render",
]
