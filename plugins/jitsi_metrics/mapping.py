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

_ORDER: Dict[str, int] = {m.key: i for i, m in enumerate(COLIBRI_METRICS)}


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


def map_payload(payload: Dict[str, Any], labels: Labels = (), legacy_names: bool = False) -> Mapped:
    """Map one /colibri/stats payload to samples.

    A key the bridge did not send gives no sample. A known key of the wrong JSON type
    is dropped with a Problem; the rest of the payload is still mapped. Unknown numeric
    or boolean keys become untyped ``jitsi_<key>`` samples, so statistics added by a
    newer bridge appear without a new release of this package.
    """
    known: List[Any] = []
    unknown: List[Sample] = []
    suspects: List[str] = []
    for key, value in payload.items():
        metric = BY_KEY.get(key)
        if metric is None:
            if is_number(value) or type(value) is bool:
                number = as_number(value) if not type(value) is bool else int(value)
                unknown.append(Sample(unknown_metric_name(key), number, labels, UNTYPED, UNKNOWN_HELP, key))
        elif metric.kind == IGNORE:
            continue
        elif field_ok(metric.kind, value):
            known.append(metric)
        else:
            suspects.append(key)

    problems: List[Problem] = []
    if suspects:
        # The schema has the last word on what is invalid.
        from .schema import schema_errors

        rejected = set(suspects) | {e.key for e in schema_errors(payload) if e.key}
        known = [m for m in known if m.key not in rejected]
        for key in sorted(rejected, key=_ORDER.__getitem__):
            metric = BY_KEY[key]
            problems.append(Problem(key, EXPECTED[metric.kind], describe_json_value(payload[key])))

    known.sort(key=lambda m: _ORDER[m.key])
    samples: List[Sample] = []
    for metric in known:
        samples.extend(_metric_samples(metric, payload[metric.key], labels, legacy_names))
    unknown.sort(key=lambda s: s.name)
    samples.extend(unknown)
    return Mapped(samples, problems, empty=not payload)


def meta_samples(up: bool, duration_seconds: float, labels: Labels = ()) -> List[Sample]:
    """``jitsi_up`` and ``jitsi_scrape_duration_seconds`` for one poll of one bridge."""
    return [
        Sample(UP.name, 1 if up else 0, labels, UP.type, UP.help_text),
        Sample(SCRAPE_DURATION.name, duration_seconds, labels, SCRAPE_DURATION.type, SCRAPE_DURATION.help_text),
    ]


__all__ = ["META_METRICS", "Mapped", "map_payload", "meta_samples"]
