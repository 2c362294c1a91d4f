"""Payload dict -> samples. Pure: no I/O, no clock, no state.

Example: ``{"conferences": 3, "healthy": true, "version": "2.3.168-g28674f78"}`` gives
``jitsi_conferences 3``, ``jitsi_healthy 1`` and
``jitsi_version_info{version="2.3.168-g28674f78"} 1``.
"""
from __future__ import annotations

from typing import Any, Dict, List, NamedTuple

from .catalogue import (
    ARRAY, BOOL, BY_KEY, COLIBRI_METRICS, IGNORE, INFO, META_METRICS, NUMBER, SCRAPE_DURATION,
    UNKNOWN_HELP, UP, Metric, unknown_metric_name,
)
from .fields import EXPECTED, as_number, field_ok, is_number
from .problems import EMPTY_PAYLOAD_HINT, Problem, describe_json_value
from .samples import UNTYPED, Labels, Sample

_ABSENT = object()
# The catalogue unpacked once into plain tuples: attribute lookups cost more than the
# rest of the per-key work.
_CATALOGUE_ROWS = tuple((m.key, m.kind == NUMBER, m.name, m.type, m.help_text, m) for m in COLIBRI_METRICS)


class Mapped(NamedTuple):
    samples: List[Sample]
    problems: List[Problem]
    empty: bool = False

    def warnings(self, bridge: str) -> List[str]:
        """One line per dropped field, plus the hint for an empty payload."""
        lines = [p.message(bridge) for p in self.problems]
        if self.empty:
            lines.append(f'Bridge "{bridge}": {EMPTY_PAYLOAD_HINT}')
        return lines


_new_sample = tuple.__new__  # Sample(...) without NamedTuple's keyword handling: this runs per key per poll


def _metric_samples(metric: Metric, value: Any, labels: Labels, legacy_names: bool) -> List[Sample]:
    name, mtype, help_text, key = metric.name, metric.type, metric.help_text, metric.key
    if metric.kind == NUMBER:
        number = as_number(value)
        out = [Sample(name, number, labels, mtype, help_text, key)]
        if legacy_names:
            out.extend(Sample(old, number, labels, mtype, help_text, key) for old in metric.legacy_names)
        return out
    if metric.kind == BOOL:
        return [Sample(name, 1 if value else 0, labels, mtype, help_text, key)]
    if metric.kind == INFO:
        return [Sample(name, 1, labels + ((metric.label, value),), mtype, help_text, key)]
    if metric.kind == ARRAY:
        return [
            Sample(name, count, labels + ((metric.label, str(index)),), mtype, help_text, key)
            for index, count in enumerate(value)
        ]
    return []


def _unknown_samples(payload: Dict[str, Any], labels: Labels) -> List[Sample]:
    unknown = []
    for key, value in payload.items():
        if key in BY_KEY:
            continue
        if type(value) is bool:
            unknown.append(Sample(unknown_metric_name(key), int(value), labels, UNTYPED, UNKNOWN_HELP, key))
        elif is_number(value):
            unknown.append(Sample(unknown_metric_name(key), as_number(value), labels, UNTYPED, UNKNOWN_HELP, key))
    unknown.sort(key=lambda s: s.name)
    return unknown


def map_payload(payload: Dict[str, Any], labels: Labels = (), legacy_names: bool = False) -> Mapped:
    """Map one /colibri/stats payload to samples, in catalogue order.

    A key the bridge did not send gives no sample. A known key of the wrong JSON type
    is dropped with a Problem; the rest of the payload is still mapped. Unknown numeric
    or boolean keys become untyped ``jitsi_<key>`` samples, so statistics added by a
    newer bridge appear without a new release of this package.
    """
    samples: List[Sample] = []
    suspects: List[Metric] = []
    found = 0
    # Walking the catalogue rather than the payload gives a stable order for free
    # (JVB's key order is a HashMap's) and makes plain numbers a single tuple build.
    get = payload.get
    append = samples.append
    for key, is_number_kind, name, mtype, help_text, metric in _CATALOGUE_ROWS:
        value = get(key, _ABSENT)
        if value is _ABSENT:
            continue
        found += 1
        value_type = type(value)
        if is_number_kind and (value_type is int or value_type is float) and not legacy_names:
            append(_new_sample(Sample, (name, value, labels, mtype, help_text, key)))
            continue
        kind = metric.kind
        if kind == IGNORE:
            continue
        elif field_ok(kind, value):
            samples.extend(_metric_samples(metric, value, labels, legacy_names))
        else:
            suspects.append(metric)
    if found < len(payload):
        samples.extend(_unknown_samples(payload, labels))
    if not suspects:
        return Mapped(samples, [], empty=not payload)

    # The schema has the last word on what is invalid.
    from .schema import schema_errors

    rejected = {m.key for m in suspects} | {e.key for e in schema_errors(payload) if e.key}
    problems = [
        Problem(m.key, EXPECTED[m.kind], describe_json_value(payload[m.key]))
        for m in COLIBRI_METRICS if m.key in rejected
    ]
    samples = [s for s in samples if s.key not in rejected or s.type == UNTYPED]
    return Mapped(samples, problems, empty=not payload)


def meta_samples(up: bool, duration_seconds: float, labels: Labels = ()) -> List[Sample]:
    """``jitsi_up`` and ``jitsi_scrape_duration_seconds`` for one poll of one bridge."""
    return [
        Sample(UP.name, 1 if up else 0, labels, UP.type, UP.help_text),
        Sample(SCRAPE_DURATION.name, duration_seconds, labels, SCRAPE_DURATION.type, SCRAPE_DURATION.help_text),
    ]


__all__ = ["META_METRICS", "Mapped", "map_payload", "meta_samples"]
