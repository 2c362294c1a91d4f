"""Jicofo's /stats (nested JSON) and /metrics (an Exposition) -> ``jitsi_jicofo_*`` samples. Pure.

Example: ``{"bridge_selector": {"operational_bridge_count": 2}}`` from /stats and
``jitsi_jicofo_bridge_selector_bridge_count_operational 2.0`` from /metrics both give
``jitsi_jicofo_bridge_selector_bridge_count_operational 2``.
"""
from __future__ import annotations

import re
from typing import Any, List, Mapping, Optional, Set

from .catalogue import BOOL, STRING, UNKNOWN_HELP
from .catalogue_jicofo import BY_EXPOSED, DYNAMIC_ROWS, JICOFO_METRICS, JICOFO_PREFIX, JicofoMetric, Path
from .check import MAX_TEXT
from .exposition import Exposition, is_integral, merge_labels, series_key
from .jvb_metrics_map import dropped_problems, unknown_samples
from .samples import Labels, Number
from .source_result import Point, SourceMapped, SourceProblem

_ABSENT = object()
_NOT_NAME = re.compile(r"[^a-z0-9_]")
# Jingle action names come from the network; bound what becomes part of a metric name.
MAX_ACTION = 40
DOUBLES = frozenset({"conferences_seconds", "endpoint_seconds"})
NON_FINITE = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}
_EXPECTED = {BOOL: "a boolean", STRING: "a string"}
# Strings become label values; bounded as /colibri/stats strings are (check.MAX_TEXT).
_LONGEST = f"a string of at most {MAX_TEXT} characters"


def _describe(value: Any) -> str:
    from .check import describe_json_value

    return describe_json_value(value)


def _get(payload: Mapping[str, Any], path: Path) -> Any:
    value: Any = payload
    for part in path:
        if not isinstance(value, dict):
            return _ABSENT
        value = value.get(part, _ABSENT)
        if value is _ABSENT:
            return _ABSENT
    return value


def _is_number(value: Any) -> bool:
    return type(value) in (int, float) or (type(value) is str and value in NON_FINITE)


def _number(value: Any) -> Number:
    return NON_FINITE[value] if type(value) is str else value


def _sample(metric: JicofoMetric, value: Number, labels: Labels, key: str = "") -> Point:
    return Point(metric.name, value, labels, metric.type, metric.help_text, key or metric.exposed)


def _row_from_stats(metric: JicofoMetric, payload: Mapping[str, Any], labels: Labels,
                    problems: List[SourceProblem]) -> List[Point]:
    for path in metric.paths:
        value = _get(payload, path)
        if value is _ABSENT:
            continue
        key = ".".join(path)
        if metric.kind == STRING:
            if type(value) is str and len(value) > MAX_TEXT:
                problems.append(SourceProblem(key, _LONGEST, f"a string of {len(value)} characters"))
                return []
            if type(value) is str:
                return [_sample(metric, 1, labels + ((metric.label, value),), f"{metric.exposed}-{value}")]
        elif metric.kind == BOOL:
            if type(value) is bool:
                return [_sample(metric, 1 if value else 0, labels)]
        elif _is_number(value):
            return [_sample(metric, _number(value), labels)]
        problems.append(SourceProblem(key, _EXPECTED.get(metric.kind, "a number"), _describe(value)))
        return []
    return []


def action_name(action: str) -> str:
    """``session-initiate`` -> ``session_initiate``, as Jicofo names its Jingle counters."""
    return _NOT_NAME.sub("_", action.lower())[:MAX_ACTION]


def _dynamic_from_stats(payload: Mapping[str, Any], labels: Labels, problems: List[SourceProblem]) -> List[Point]:
    out: List[Point] = []
    sizes = payload.get("conference_sizes", _ABSENT)
    if isinstance(sizes, list) and all(type(v) in (int, float) for v in sizes):
        row = DYNAMIC_ROWS["conference_sizes"]
        out += [Point(row.name, v, labels + ((row.label, str(i)),), row.type, row.help_text, f"conference_sizes-{i}")
                for i, v in enumerate(sizes)]
    elif isinstance(sizes, dict) and isinstance(sizes.get("buckets"), dict):
        row = DYNAMIC_ROWS["conference_size_buckets"]
        for bucket, count in sizes["buckets"].items():
            # p99/p999 upper bounds are estimates (-1 when unknown), not counts of conferences.
            if "_to_" in bucket and type(count) in (int, float):
                if len(bucket) > MAX_TEXT:
                    problems.append(SourceProblem("conference_sizes.buckets", _LONGEST,
                                                  f"a bucket name of {len(bucket)} characters"))
                    continue
                out.append(Point(row.name, count, labels + ((row.label, bucket),), row.type, row.help_text,
                                  f"{row.exposed}-{bucket}"))
    elif sizes is not _ABSENT:
        problems.append(SourceProblem("conference_sizes", "an array of numbers or a bucket object", _describe(sizes)))
    for direction in ("received", "sent"):
        actions = _get(payload, ("jingle", direction))
        if not isinstance(actions, dict):
            continue
        row = DYNAMIC_ROWS[f"jingle_<action>_{direction}_total"]
        for action in sorted(actions):
            if type(actions[action]) in (int, float):
                name = f"{JICOFO_PREFIX}jingle_{action_name(str(action))}_{direction}_total"
                out.append(Point(name, actions[action], labels, row.type, row.help_text, name[len(JICOFO_PREFIX):]))
    selector = payload.get("bridge_selector")
    if isinstance(selector, dict):
        row = DYNAMIC_ROWS["bridge_selector_<strategy>_total"]
        for key in sorted(selector):
            # The strategy counters Jicofo kept until stable-10008: total_least_loaded, …
            if key.startswith("total_") and type(selector[key]) in (int, float):
                name = f"{JICOFO_PREFIX}bridge_selector_{action_name(key[len('total_'):])}_total"
                out.append(Point(name, selector[key], labels, row.type, row.help_text, name[len(JICOFO_PREFIX):]))
    return out


def map_jicofo_stats(payload: Mapping[str, Any], labels: Labels = ()) -> SourceMapped:
    """Jicofo /stats of any era; absent keys give no sample, a wrong type drops that one value."""
    samples: List[Point] = []
    problems: List[SourceProblem] = []
    for metric in JICOFO_METRICS:
        if metric.exposed in BY_EXPOSED:
            samples.extend(_row_from_stats(metric, payload, labels, problems))
    samples.extend(_dynamic_from_stats(payload, labels, problems))
    notes = [] if payload else ["Jicofo's /stats answered {}; is its REST API configured fully?"]
    return SourceMapped(samples, problems, notes)


def _whole(exposed: str, value: float) -> Number:
    return int(value) if exposed not in DOUBLES and is_integral(value) else value


def _lookup(expo: Exposition, exposed: str) -> Optional[str]:
    if exposed in expo.series:
        return exposed
    if exposed.endswith("_total") and exposed[: -len("_total")] in expo.series:
        return exposed[: -len("_total")]
    return None


def map_jicofo_metrics(expo: Exposition, labels: Labels = ()) -> SourceMapped:
    """Jicofo /metrics (text or JSON form): known series in catalogue order, Jingle and
    unknown series after them under Jicofo's own names."""
    samples: List[Point] = []
    used: Set[str] = set()
    for metric in JICOFO_METRICS:
        if metric.exposed not in BY_EXPOSED:
            continue
        found = _lookup(expo, metric.exposed)
        if found is None:
            continue
        used.add(found)
        for series_labels, value in expo.series[found]:
            if metric.kind == STRING:
                text = dict(series_labels).get(metric.label, "")
                samples.append(_sample(metric, 1, labels + ((metric.label, text),), f"{metric.exposed}-{text}"))
            elif metric.kind == BOOL:
                samples.append(_sample(metric, 1 if value else 0, merge_labels(labels, series_labels),
                                       series_key(metric.exposed, series_labels)))
            else:
                samples.append(_sample(metric, _whole(metric.exposed, value), merge_labels(labels, series_labels),
                                       series_key(metric.exposed, series_labels)))
    jingle = sorted(n for n in expo.series if n.startswith("jingle_") and n not in used)
    for name in jingle:
        direction = "received" if "_received" in name else "sent"
        row = DYNAMIC_ROWS[f"jingle_<action>_{direction}_total"]
        used.add(name)
        total = name if name.endswith("_total") else name + "_total"
        samples.extend(Point(JICOFO_PREFIX + total, _whole(name, v), merge_labels(labels, sl), row.type,
                              row.help_text, series_key(total, sl)) for sl, v in expo.series[name])
    samples.extend(unknown_samples(expo, used, labels, lambda name: JICOFO_PREFIX + _NOT_NAME.sub("_", name)))
    notes = [] if expo.series else ["Jicofo's /metrics answered without a single metric"]
    return SourceMapped(samples, dropped_problems(expo), notes)


__all__ = ["UNKNOWN_HELP", "action_name", "map_jicofo_metrics", "map_jicofo_stats"]
