"""Payload dict -> metric families. Pure: no I/O, no clock, no state.

Example: ``{"conferences": 3, "healthy": true, "version": "2.3.168-g28674f78"}`` gives
``jitsi_conferences 3``, ``jitsi_healthy 1`` and
``jitsi_version_info{version="2.3.168-g28674f78"} 1``.

Which fields are exported is the check step's decision (check.py); this module only
names and shapes what passed.
"""
from __future__ import annotations

from typing import Any, Dict, List, NamedTuple, Tuple

from .catalogue import (
    ARRAY,
    BOOL,
    META_METRICS,
    METRIC_PREFIX,
    NUMBER,
    OWNED_NAMES,
    SCRAPE_DURATION,
    STRING,
    UNKNOWN_HELP,
    UP,
    Metric,
    unknown_metric_name,
)
from .check import EMPTY_PAYLOAD_HINT, MAX_SHOWN, Problem, as_number, check_payload
from .logtext import loggable
from .samples import UNTYPED, Family, Labels, Sample


class Mapped(NamedTuple):
    families: List[Family]
    problems: List[Problem]
    empty: bool = False

    def warnings(self, bridge: str) -> List[str]:
        """One line per skipped field, plus the hint for an empty payload."""
        lines: List[str] = [p.message(bridge) for p in self.problems]
        if self.empty:
            lines.append(f'Bridge "{loggable(bridge, MAX_SHOWN)}": {EMPTY_PAYLOAD_HINT}')
        return lines


def _metric_families(metric: Metric, value: Any, labels: Labels, legacy_names: bool) -> List[Family]:
    """The families of one checked field: several with ``legacy_names``, none for an empty array."""
    if metric.kind == NUMBER:
        samples = [Sample(labels, value)]
    elif metric.kind == BOOL:
        samples = [Sample(labels, 1 if value else 0)]
    elif metric.kind == STRING:
        samples = [Sample(labels + ((metric.label, value),), 1)]
    elif metric.kind == ARRAY:
        samples = [Sample(labels + ((metric.label, str(index)),), count) for index, count in enumerate(value)]
        if not samples:
            return []
    else:
        return []
    families = [Family(metric.name, metric.type, metric.help_text, samples, metric.key)]
    if legacy_names:
        families += [Family(old, metric.type, metric.help_text, samples, metric.key) for old in metric.legacy_names]
    return families


def _clash(key: str, name: str, owner: str) -> Problem:
    whose = f'key "{loggable(owner, MAX_SHOWN)}"' if owner else "this package's own metric"
    return Problem(key, "a metric name of its own", f"{name}, the name of {whose}")


def _unknown_families(payload: Dict[str, Any], keys: List[str], labels: Labels) -> Tuple[List[Family], List[Problem]]:
    """Untyped families for the unknown keys that passed the check, sorted by name.

    Keys that give the same name (``"a b"`` and ``"a_b"``) keep one: the key that is its
    own name if there is one, else the smallest. A name of this package's (``jitsi_up``,
    ``jitsi_version_info`` ...) is never taken, whether or not its key was sent.
    """
    by_name: Dict[str, List[str]] = {}
    for key in keys:
        by_name.setdefault(unknown_metric_name(key), []).append(key)
    families: List[Family] = []
    problems: List[Problem] = []
    for name in sorted(by_name):
        ranked = sorted(by_name[name], key=lambda k: (unknown_metric_name(k) != METRIC_PREFIX + k, k))
        if name in OWNED_NAMES:
            problems += [_clash(key, name, OWNED_NAMES[name]) for key in ranked]
            continue
        winner = ranked[0]
        problems += [_clash(key, name, winner) for key in ranked[1:]]
        value = payload[winner]
        number = int(value) if type(value) is bool else as_number(value)
        families.append(Family(name, UNTYPED, UNKNOWN_HELP, [Sample(labels, number)], winner))
    return families, problems


def map_payload(payload: Dict[str, Any], labels: Labels = (), legacy_names: bool = False) -> Mapped:
    """Map one /colibri/stats payload to families, in catalogue order, then unknown keys.

    A key the bridge did not send gives no family. A field the check step rejects is
    skipped with a Problem; the rest of the payload is still mapped. Unknown numeric or
    boolean keys become untyped ``jitsi_<key>`` families, so statistics added by a newer
    bridge appear without a new release of this package.
    """
    verdict = check_payload(payload)
    families: List[Family] = []
    # The check gives the fields in catalogue order rather than the payload's
    # (JVB's key order is a HashMap's), so the output order is stable.
    for metric, value in verdict.fields:
        if metric.kind == NUMBER and not legacy_names:  # most keys: one family of one sample
            families.append(Family(metric.name, metric.type, metric.help_text, [Sample(labels, value)], metric.key))
        else:
            families += _metric_families(metric, value, labels, legacy_names)
    problems = verdict.problems
    if verdict.unknown:
        unknown, clashes = _unknown_families(payload, verdict.unknown, labels)
        families += unknown
        problems = problems + clashes
    return Mapped(families, problems, empty=not payload)


def meta_families(up: bool, seconds: float, labels: Labels = ()) -> List[Family]:
    """``jitsi_up`` and ``jitsi_scrape_duration_seconds`` for one poll of one bridge."""
    return [
        Family(UP.name, UP.type, UP.help_text, [Sample(labels, 1 if up else 0)]),
        Family(SCRAPE_DURATION.name, SCRAPE_DURATION.type, SCRAPE_DURATION.help_text, [Sample(labels, seconds)]),
    ]


__all__ = ["META_METRICS", "Mapped", "map_payload", "meta_families"]
