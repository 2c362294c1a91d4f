"""JVB ``/metrics`` (an Exposition) -> samples under the /colibri/stats names. Pure.

Example: ``jitsi_jvb_incoming_bitrate 1284955.0`` gives ``jitsi_bit_rate_download 1284``,
as /colibri/stats of the same bridge says (kilobits per second, truncated like JVB does);
``jitsi_jvb_conferences_by_size_bucket{le="2.0"} 1.0`` gives
``jitsi_conferences_by_size_bucket{le="2.0"} 1``.
"""
from __future__ import annotations

import math
from typing import Callable, List, Optional, Set, Tuple

from .catalogue import BOOL, STRING, UNKNOWN_HELP, Metric, unknown_metric_name
from .catalogue_jvb_metrics import DOUBLES, EQUIVALENT_METRICS, HISTOGRAM, METRICS_ONLY, Equivalent
from .exposition import Exposition, Series, is_integral, merge_labels, series_key
from .samples import UNTYPED, Labels, Number
from .source_result import Point, SourceMapped, SourceProblem

NO_METRICS_NOTE = "the /metrics endpoint answered without a single metric; check videobridge.rest.prometheus.enabled"


def _whole(value: float) -> Number:
    return int(value) if is_integral(value) else value


def _converted(value: float, eq: Equivalent) -> Number:
    if eq.exposed in DOUBLES or not math.isfinite(value):
        return value / eq.divisor if eq.divisor != 1 else value
    if is_integral(value):
        # JVB's own /colibri/stats divides the bps Long by 1000, dropping the fraction.
        return int(value) // eq.divisor
    return value / eq.divisor


def _lookup(expo: Exposition, exposed: str) -> Tuple[str, Optional[List[Series]]]:
    """The series and the name found; counters lacked ``_total`` in JSON before 2022-09."""
    values = expo.series.get(exposed)
    if values is None and exposed.endswith("_total"):
        exposed = exposed[: -len("_total")]
        values = expo.series.get(exposed)
    return exposed, values


def _equivalent_samples(eq: Equivalent, metric: Metric, values: List[Series], labels: Labels) -> List[Point]:
    out = []
    for series_labels, value in values:
        if metric.kind == STRING:
            text = dict(series_labels).get(metric.key, "")
            out.append(Point(metric.name, 1, labels + ((metric.label, text),), metric.type, metric.help_text,
                              metric.key))
        elif metric.kind == BOOL:
            out.append(Point(metric.name, 1 if value else 0, merge_labels(labels, series_labels), metric.type,
                              metric.help_text, metric.key))
        else:
            out.append(Point(metric.name, _converted(value, eq), merge_labels(labels, series_labels), metric.type,
                              metric.help_text, metric.key))
    return out


def histogram_samples(metric: Metric, expo: Exposition, exposed: str, labels: Labels, used: Set[str]) -> List[Point]:
    """``<name>_bucket{le}``, ``_sum`` and ``_count`` of one histogram; [] when absent."""
    buckets = expo.series.get(exposed + "_bucket")
    # Only a family declared a histogram has had its buckets checked (exposition.checked_buckets).
    if buckets is None or expo.types.get(exposed + "_bucket") != HISTOGRAM:
        return []
    out = []
    for suffix in ("_bucket", "_sum", "_count"):
        used.add(exposed + suffix)
        for series_labels, value in expo.series.get(exposed + suffix, []):
            number = value if suffix == "_sum" else _whole(value)
            out.append(Point(metric.name + suffix, number, merge_labels(labels, series_labels), HISTOGRAM,
                              metric.help_text, series_key(exposed + suffix, series_labels)))
    return out


def map_jvb_metrics(expo: Exposition, labels: Labels = ()) -> SourceMapped:
    """Every series of a JVB /metrics answer, known ones under catalogue names.

    Series named in neither table become untyped ``jitsi_<name>`` samples, as unknown
    /colibri/stats keys do, so a newer bridge's additions appear without a release.
    """
    samples: List[Point] = []
    used: Set[str] = set()
    for eq, metric in EQUIVALENT_METRICS:
        found, values = _lookup(expo, eq.exposed)
        if values is None:
            continue
        used.add(found)
        samples.extend(_equivalent_samples(eq, metric, values, labels))
    for metric in METRICS_ONLY:
        if metric.kind == HISTOGRAM:
            samples.extend(histogram_samples(metric, expo, metric.key, labels, used))
            continue
        found, values = _lookup(expo, metric.key)
        if values is None:
            continue
        used.add(found)
        samples.extend(Point(metric.name, _whole(v), merge_labels(labels, sl), metric.type, metric.help_text,
                              series_key(metric.key, sl)) for sl, v in values)
    samples.extend(unknown_samples(expo, used, labels, unknown_metric_name))
    notes = [] if expo.series else [NO_METRICS_NOTE]
    return SourceMapped(samples, dropped_problems(expo), notes)


def dropped_problems(expo: Exposition) -> List[SourceProblem]:
    """What the parser left out, one problem per series name and reason."""
    return [SourceProblem(d.key, d.expected, d.got) for d in expo.dropped]


def unknown_samples(expo: Exposition, used: Set[str], labels: Labels, naming: Callable[[str], str]) -> List[Point]:
    out = []
    for name in sorted(set(expo.series) - used):
        mtype = HISTOGRAM if expo.types.get(name) == HISTOGRAM else UNTYPED
        for series_labels, value in expo.series[name]:
            out.append(Point(naming(name), value, merge_labels(labels, series_labels), mtype, UNKNOWN_HELP,
                              series_key(name, series_labels)))
    return out


def supplement(colibri: List[Point], from_metrics: List[Point]) -> List[Point]:
    """/colibri/stats samples plus the /metrics families they lack (the histograms, JVM …).

    For a bridge that serves both: /colibri/stats stays the authority for every name it
    gives (on stable-7648…9364 /metrics is a small subset), /metrics adds the rest.
    """
    names = {s.name for s in colibri}
    return colibri + [s for s in from_metrics if s.name not in names]

