"""What the simulated bridge and Jicofo serve besides /colibri/stats. Pure functions of the model.

The numbers come from the same model as /colibri/stats (simulate.SimulatedBridge), so a
test can read one simulated bridge through both sources and compare. The /metrics text
follows what a real JVB serves (tests/payloads/jvb-2.3-head-local-build): ``jitsi_jvb_``
namespace, ``_total`` counters, OpenMetrics or 0.0.4 by Accept header, and JSON without
namespace where histograms are objects of ``bucket_le_*``, ``count`` and ``sum``.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .catalogue import BOOL, STRING
from .catalogue_jicofo import BY_EXPOSED as JICOFO_ROWS
from .catalogue_jvb_metrics import EQUIVALENT_METRICS
from .samples import COUNTER, GAUGE

OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
TEXT_004 = "text/plain; version=0.0.4; charset=utf-8"
JSON_TYPE = "application/json"
HISTOGRAM_BOUNDS = tuple(range(21))

# One series: (name without namespace, type, value, labels); type is gauge, counter, info or histogram.
Series = Tuple[str, str, Any]


def negotiate(accept: Optional[str]) -> Optional[str]:
    """The content type a Jitsi component answers /metrics with; None means HTTP 500,
    which is what JVB does when the request has no Accept header."""
    if not accept:
        return None
    accept = accept.lower()
    if "application/openmetrics-text" in accept:
        return OPENMETRICS
    if "application/json" in accept:
        return JSON_TYPE
    if "text/plain" in accept:
        return TEXT_004
    if "*/*" in accept:
        return OPENMETRICS
    return None


def histogram(values: Sequence[int]) -> Dict[str, Any]:
    """Cumulative buckets le 0 … 20 and +Inf, as JVB's conference histograms."""
    buckets = [(f"{bound}.0", sum(1 for v in values if v <= bound)) for bound in HISTOGRAM_BOUNDS]
    buckets.append(("+Inf", len(values)))
    return {"buckets": buckets, "count": len(values), "sum": float(sum(values))}


def jvb_series(stats: Mapping[str, Any], sizes: Sequence[int], audio: Sequence[int],
               video: Sequence[int]) -> List[Series]:
    """Every series of the bridge's /metrics, from its /colibri/stats payload and conferences."""
    out: List[Series] = []
    seen = set()
    for eq, metric in EQUIVALENT_METRICS:
        if eq.exposed in seen or metric.key not in stats:
            continue
        seen.add(eq.exposed)
        value = stats[metric.key]
        if metric.kind == STRING:
            out.append((eq.exposed[: -len("_info")], "info", value))
        elif metric.kind == BOOL:
            out.append((eq.exposed, "bool", bool(value)))
        else:
            mtype = COUNTER if eq.exposed.endswith("_total") else GAUGE
            out.append((eq.exposed, mtype, value * eq.divisor))
    out.append(("conferences_by_size", "histogram", histogram(sizes)))
    out.append(("conferences_by_audio_sender", "histogram", histogram(audio)))
    out.append(("conferences_by_video_sender", "histogram", histogram(video)))
    out.append(("jvm_heap_used", GAUGE, 64_000_000 + 1000 * int(stats.get("endpoints", 0))))
    out.append(("xmpp_disconnects_total", COUNTER, 0))
    out.append(("ice_restarts_started_total", COUNTER, 0))
    return out


def jicofo_stats(stats: Mapping[str, Any], sizes: Sequence[int], version: str) -> Dict[str, Any]:
    """Jicofo's /stats for the conferences the simulated bridge hosts (its HEAD shape)."""
    participants = int(stats.get("endpoints", 0))
    buckets = {"0_to_1": 0, "1_to_2": 0, "2_to_3": 0, "3_to_5": 0, "5_to_10": 0, "10_to_20": 0, "20_to_max": 0}
    for size in sizes:
        for name, (low, high) in (("0_to_1", (0, 1)), ("1_to_2", (1, 2)), ("2_to_3", (2, 3)), ("3_to_5", (3, 5)),
                                  ("5_to_10", (5, 10)), ("10_to_20", (10, 20)), ("20_to_max", (20, 1 << 30))):
            if low <= size < high:
                buckets[name] += 1
    return {
        "conferences": stats.get("conferences", 0),
        "participants": participants,
        "visitors": 0,
        "conferences_with_visitors": 0,
        "largest_conference": stats.get("largest_conference", 0),
        "total_conferences_created": stats.get("total_conferences_created", 0),
        "total_participants": stats.get("total_participants", 0),
        "endpoint_pairs": sum(n * (n - 1) for n in sizes),
        "conference_sizes": {"average": "NaN" if not sizes else sum(sizes) / len(sizes), "max": max(sizes, default=0),
                             "min": min(sizes, default=0), "total_value": sum(sizes), "total_count": len(sizes),
                             "discarded": 0, "buckets": buckets},
        "bridge_selector": {"bridge_count": 1, "operational_bridge_count": 1, "in_shutdown_bridge_count": 0,
                            "lost_bridges": 0, "bridge_version_count": 1},
        "bridge_failures": {"participants_moved": 0, "bridges_removed": 0},
        "participant_notifications": {"ice_failed": stats.get("total_ice_failed", 0), "request_restart": 0},
        "jibri_detector": {"count": 1, "available": 1},
        "sip_jibri_detector": {"count": 0, "available": 0},
        "jibri": {"total_sip_call_failures": 0, "total_live_streaming_failures": 0, "total_recording_failures": 0,
                  "live_streaming_active": 0, "recording_active": 0, "sip_call_active": 0},
        "jigasi": {},
        "queues": {},
        "jingle": {"sent": {"session-initiate": stats.get("total_participants", 0)},
                   "received": {"session-accept": stats.get("total_participants", 0)}},
        "threads": 40,
        "version": version,
    }


def _path_value(payload: Mapping[str, Any], path: Tuple[str, ...]) -> Any:
    value: Any = payload
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def jicofo_series(stats: Mapping[str, Any]) -> List[Series]:
    """Jicofo's /metrics from its /stats, through the catalogue rows that link the two."""
    out: List[Series] = []
    for exposed, row in JICOFO_ROWS.items():
        value = next((v for v in (_path_value(stats, p) for p in row.paths) if v is not None), None)
        if row.kind == STRING:
            if value is not None:
                out.append((exposed[: -len("_info")], "info", value))
        elif row.kind == BOOL:
            if value is not None:
                out.append((exposed, "bool", bool(value)))
        elif value is not None or not row.paths:
            out.append((exposed, COUNTER if exposed.endswith("_total") else GAUGE, value or 0))
    for direction in ("received", "sent"):
        for action, count in sorted(stats.get("jingle", {}).get(direction, {}).items()):
            out.append((f"jingle_{action.replace('-', '_')}_{direction}_total", COUNTER, count))
    return out


def _number(value: Any) -> str:
    return repr(float(value))


def render_text(series: Sequence[Series], namespace: str, openmetrics: bool) -> str:
    """The exposition as simpleclient writes it (without the ``_created`` series)."""
    lines: List[str] = []
    for name, mtype, value in series:
        full = namespace + name
        if mtype == "info":
            family = full if openmetrics else full + "_info"
            lines += [f"# TYPE {family} {'info' if openmetrics else 'gauge'}", f"# HELP {family} Simulated.",
                      f'{full}_info{{{name}="{value}"}} 1.0']
        elif mtype == "histogram":
            lines += [f"# TYPE {full} histogram", f"# HELP {full} Simulated."]
            lines += [f'{full}_bucket{{le="{le}"}} {_number(n)}' for le, n in value["buckets"]]
            lines += [f"{full}_count {_number(value['count'])}", f"{full}_sum {_number(value['sum'])}"]
        else:
            family = full[: -len("_total")] if openmetrics and mtype == COUNTER else full
            shown = "gauge" if mtype == "bool" else mtype
            lines += [f"# TYPE {family} {shown}", f"# HELP {family} Simulated.", f"{full} {_number(value)}"]
    if openmetrics:
        lines.append("# EOF")
    return "\n".join(lines) + "\n"


def render_json(series: Sequence[Series]) -> str:
    out: Dict[str, Any] = {}
    for name, mtype, value in series:
        if mtype == "histogram":
            entry: Dict[str, Any] = {f"bucket_le_{le}": float(n) for le, n in value["buckets"]}
            entry.update(count=float(value["count"]), sum=value["sum"])
            out[name] = entry
        else:
            out[name] = value
    return json.dumps(out)


def render_metrics(series: Sequence[Series], namespace: str, content_type: str) -> bytes:
    if content_type == JSON_TYPE:
        return render_json(series).encode()
    return render_text(series, namespace, content_type == OPENMETRICS).encode()
