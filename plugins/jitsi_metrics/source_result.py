"""What mapping one non-/colibri/stats source gives: points plus the problems found. Pure.

The source mappers build flat ``Point`` records (one series each, named in full, as the
component itself names them); ``as_output`` is the one place that groups them into the
``Family`` lists every renderer and front end takes. A histogram's points
(``jitsi_conferences_by_size_bucket``, ``_sum``, ``_count``) become one family of type
histogram named ``jitsi_conferences_by_size``, each sample carrying its suffix.
"""
from __future__ import annotations

from typing import Dict, Iterable, List, NamedTuple, Set, Tuple

from .check import Problem
from .samples import HISTOGRAM, HISTOGRAM_SUFFIXES, UNTYPED, Family, Labels, Number, Sample


class Point(NamedTuple):
    """One series of a source, e.g. ``jitsi_jicofo_conferences 3`` or
    ``jitsi_conferences_by_size_bucket{le="2.0"} 1``.

    ``key`` names the series for front ends that name values by key (collectd's type
    instance): the component's own name of it, unique without labels where it can be.
    """

    name: str
    value: Number
    labels: Labels = ()
    type: str = UNTYPED
    help: str = ""
    key: str = ""


# A value a source mapper dropped is the same record as a /colibri/stats field the check
# skipped: one message format, one warning identity for health.
SourceProblem = Problem


class SourceMapped(NamedTuple):
    samples: List[Point]
    problems: List[SourceProblem]
    notes: List[str]

    @property
    def families(self) -> List[Family]:
        return as_output(self.samples)

    def warnings(self, bridge: str) -> List[str]:
        """One line per dropped value, then one per note about the source as a whole."""
        return [p.message(bridge) for p in self.problems] + [f'Bridge "{bridge}": {note}' for note in self.notes]


def first_of_each_series(mapped: SourceMapped) -> SourceMapped:
    """The first point of each (name, label set); one problem per name that came twice.

    Two values for one series are what Influx would store as ``threads=5i,threads=6i`` and
    Prometheus rejects: a bridge may repeat a line, and Jicofo's ``session-initiate`` and
    ``session_initiate`` Jingle actions have one metric name.
    """
    seen: Set[Tuple[str, object]] = set()
    kept: List[Point] = []
    repeated: Dict[str, SourceProblem] = {}
    for point in mapped.samples:
        labels = point.labels
        identity = (point.name, frozenset(labels) if len(labels) > 1 else labels)
        if identity in seen:
            key = point.key.split("-", 1)[0] or point.name
            repeated.setdefault(point.name, SourceProblem(key, "one value per series",
                                                          "a second one (the first is kept)"))
            continue
        seen.add(identity)
        kept.append(point)
    if not repeated:
        return mapped
    return SourceMapped(kept, mapped.problems + list(repeated.values()), mapped.notes)


def family_name(point: Point) -> str:
    """A histogram point's family is its name without _bucket/_sum/_count."""
    if point.type == HISTOGRAM:
        for suffix in HISTOGRAM_SUFFIXES:
            if point.name.endswith(suffix):
                return point.name[: -len(suffix)]
    return point.name


def as_output(points: Iterable[Point]) -> List[Family]:
    """Points grouped into families, in first-seen order, as the renderers take them.

    A family's ``key`` is its first point's key with any label values dropped; collectd
    adds a sample's suffix and label values back (collectd_plugin.value_spec).
    """
    families: Dict[str, Family] = {}
    for point in points:
        name = family_name(point)
        suffix = point.name[len(name):]
        family = families.get(name)
        if family is None:
            family = families[name] = Family(name, point.type, point.help, [], _bare_key(point.key, suffix))
        family.samples.append(Sample(point.labels, point.value, suffix))
    return list(families.values())


def _bare_key(key: str, suffix: str) -> str:
    # Keys are snake_case names, "-<label values>" appended per series (exposition.series_key).
    key = key.split("-", 1)[0]
    return key[: -len(suffix)] if suffix and key.endswith(suffix) else key


def points(families: Iterable[Family]) -> List[Point]:
    """Families flattened back into points (a /colibri/stats mapping, to be supplemented)."""
    return [Point(f.name + s.suffix, s.value, s.labels, f.type, f.help, f.key) for f in families for s in f.samples]
