"""The records every part of the package passes around: metric families and their samples.

A family is one metric (name, type, HELP) with the samples of one or several bridges, as
in prometheus_client's ``Metric``; renderers write its header once, then its samples.
This module imports nothing from the package, so every other module can depend on it.
"""
from __future__ import annotations

from typing import Dict, Iterable, List, NamedTuple, Tuple, Union

Number = Union[int, float]
Labels = Tuple[Tuple[str, str], ...]

GAUGE = "gauge"
COUNTER = "counter"
UNTYPED = "untyped"
HISTOGRAM = "histogram"
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


class Sample(NamedTuple):
    """One value of a family, e.g. the ``{bridge="meet1"} 3`` of ``jitsi_conferences``.

    ``suffix`` is "" except in a histogram family, whose samples are its ``_bucket``
    (with an ``le`` label), ``_sum`` and ``_count`` series: the sample's name is the
    family's name plus the suffix.
    """

    labels: Labels
    value: Number
    suffix: str = ""


class Family(NamedTuple):
    """One metric and its samples, e.g. ``jitsi_conferences`` (gauge) with one sample per bridge.

    ``key`` is the payload key the values came from (``conference_sizes`` for
    ``jitsi_conference_sizes``; "" for this package's own metrics such as ``jitsi_up``):
    collectd names its type instances after it.
    """

    name: str
    type: str
    help: str
    samples: List[Sample]
    key: str = ""

    def with_labels(self, extra: Labels) -> "Family":
        """The same family with ``extra`` labels put in front of every sample's own."""
        if not extra:
            return self
        # Built directly: NamedTuple._replace costs about three constructions.
        samples = [Sample(extra + labels, value, suffix) for labels, value, suffix in self.samples]
        return Family(self.name, self.type, self.help, samples, self.key)


def merge_families(groups: Iterable[Iterable[Family]]) -> List[Family]:
    """Families of several bridges merged by name, in first-seen order, samples in group order.

    The first family of a name gives the header; the catalogue and the mapper make sure
    that one name never stands for two types. A name that only one group has (every
    name, when there is one bridge) keeps its family as given; only families that
    really merge are built anew. The families passed in are never changed.
    """
    lists = [list(group) for group in groups]
    if len(lists) == 1:  # one bridge, the common case: nothing can merge
        return lists[0]
    first: Dict[str, Family] = {}
    more: Dict[str, List[Sample]] = {}  # name -> the merged samples, for names seen twice or more
    for group in lists:
        for family in group:
            known = first.get(family.name)
            if known is None:
                first[family.name] = family
            else:
                more.setdefault(family.name, list(known.samples)).extend(family.samples)
    return [
        Family(f.name, f.type, f.help, more[f.name], f.key) if f.name in more else f
        for f in first.values()
    ]
