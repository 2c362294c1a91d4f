"""The generated docs and schema of the non-/colibri/stats sources.

gen_docs.py (the core's generator) is meant to call these two:

* ``render_sources_metrics_section()``: the part of docs/metrics.md that lists JVB
  /metrics and Jicofo metrics, each with the source(s) it comes from;
* ``generated_source_files()``: {path: text} of the Jicofo /stats schema.

``metric_sources(name)`` says which sources give a /colibri/stats catalogue metric, for a
"sources" column in the core's table.
"""
from __future__ import annotations

import os
from typing import Dict, List

from .catalogue import STRING
from .catalogue_jicofo import JICOFO_METRICS, JicofoMetric
from .catalogue_jvb_metrics import EQUIVALENTS, HISTOGRAM, METRICS_ONLY
from .jicofo_schema import SCHEMA_FILE, build_jicofo_schema, render_schema

JICOFO_SCHEMA_PATH = os.path.join("plugins", "jitsi_metrics", "schema", SCHEMA_FILE)
_EXPOSED_BY_KEY: Dict[str, List[str]] = {}
for _eq in EQUIVALENTS:
    _EXPOSED_BY_KEY.setdefault(_eq.key, []).append(_eq.exposed)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def metric_sources(key: str) -> str:
    """``/colibri/stats, /metrics (incoming_bitrate ÷ 1000)`` for a /colibri/stats key."""
    exposed = _EXPOSED_BY_KEY.get(key)
    if not exposed:
        return "/colibri/stats"
    divisor = next(e.divisor for e in EQUIVALENTS if e.key == key)
    note = f" ÷ {divisor}" if divisor != 1 else ""
    return f"/colibri/stats, /metrics (`{exposed[0]}`{note})"


def _jicofo_sources(metric: JicofoMetric) -> str:
    where = []
    if metric.paths:
        where.append("/stats (" + ", ".join(f"`{'.'.join(p)}`" for p in metric.paths) + ")")
    # Rows marked "/stats only" predate Jicofo's /metrics or never had a series there.
    if not metric.versions.endswith("/stats only"):
        where.append("/metrics")
    return ", ".join(where)


def render_sources_metrics_section() -> str:
    lines: List[str] = [
        "## From JVB /metrics",
        "",
        "A bridge read through its native `/metrics` (on by default; `/colibri/stats` is off by",
        "default) gives the metrics above under the same names and units wherever the meaning is the",
        "same; see [sources.md](sources.md). These /colibri/stats keys map to a /metrics series:",
        "",
        "| key | /metrics series (without `jitsi_jvb_`) | conversion |",
        "|---|---|---|",
    ]
    for eq in EQUIVALENTS:
        conversion = f"÷ {eq.divisor} (bits to kilobits per second)" if eq.divisor != 1 else "–"
        lines.append(f"| `{eq.key}` | `{eq.exposed}` | {conversion} |")
    lines += [
        "",
        "Only /metrics has these (names: `jitsi_` + the bridge's name, `_total` on every counter):",
        "",
        "| metric | type | unit | JVB versions | help |",
        "|---|---|---|---|---|",
    ]
    for metric in METRICS_ONLY:
        shape = f"`{metric.name}_bucket{{le}}`, `_sum`, `_count`" if metric.kind == HISTOGRAM else f"`{metric.name}`"
        lines.append(f"| {shape} | {metric.type} | {_cell(metric.unit)} | {_cell(metric.versions)} | "
                     f"{_cell(metric.help)} |")
    lines += [
        "",
        "## From Jicofo /stats and /metrics",
        "",
        "Named exactly as Jicofo's own /metrics names them (`jitsi_jicofo_…`), whichever source",
        "is read. Jicofo versions are its `stable/jitsi-meet_NNNN` tags.",
        "",
        "| metric | type | unit | sources | Jicofo versions | help |",
        "|---|---|---|---|---|---|",
    ]
    for row in JICOFO_METRICS:
        if row.kind == STRING:
            shape = f'`{row.name}{{{row.label}="…"}} 1`'
        elif row.label:
            shape = f'`{row.name}{{{row.label}="…"}}`'
        else:
            shape = f"`{row.name}`"
        lines.append(f"| {shape} | {row.type} | {_cell(row.unit or '–')} | {_cell(_jicofo_sources(row))} | "
                     f"{_cell(row.versions)} | {_cell(row.help)} |")
    lines += [
        "",
        "Not exported from Jicofo /stats: `queues` (per-queue internals), `health` (its `success` is",
        "`healthy`), `conference_sizes` average/min/max, `xmpp`/`xmpp_service` (before stable-7001).",
        "",
    ]
    return "\n".join(lines)


def generated_source_files() -> Dict[str, str]:
    return {JICOFO_SCHEMA_PATH: render_schema(build_jicofo_schema())}
