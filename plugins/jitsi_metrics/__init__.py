"""jitsi-meet-metrics: Jitsi Videobridge statistics as metric samples.

The core maps a /colibri/stats payload to samples and renders them; the front ends
(``jitsi-metrics telegraf``, the collectd plugin, the Prometheus exporter) wrap it.
"""
from __future__ import annotations

from .mapping import Mapped, map_payload, meta_samples
from .problems import Problem
from .render.influx import render_influx
from .render.prometheus import render_prometheus
from .samples import Sample

__version__ = "0.1.0"

__all__ = [
    "Mapped",
    "Problem",
    "Sample",
    "__version__",
    "map_payload",
    "meta_samples",
    "render_influx",
    "render_prometheus",
]
