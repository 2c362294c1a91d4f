"""The sample record every part of the package passes around.

This module imports nothing from the package, so every other module can depend on it.
"""
from __future__ import annotations

from typing import NamedTuple, Tuple, Union

Number = Union[int, float]
Labels = Tuple[Tuple[str, str], ...]

GAUGE = "gauge"
COUNTER = "counter"
UNTYPED = "untyped"


class Sample(NamedTuple):
    """One value of one metric, e.g. ``jitsi_conferences{bridge="meet1"} 3``.

    ``key`` is the payload key the value came from (``conference_sizes`` for
    ``jitsi_conference_sizes{conference_size="3"}``); front ends that name values after
    the bridge's own keys (collectd's type instance, Influx fields) use it.
    """

    name: str
    value: Number
    labels: Labels = ()
    type: str = UNTYPED
    help: str = ""
    key: str = ""

    def with_labels(self, extra: Labels) -> "Sample":
        """The same sample with ``extra`` labels put in front of its own."""
        if not extra:
            return self
        return self._replace(labels=extra + self.labels)
