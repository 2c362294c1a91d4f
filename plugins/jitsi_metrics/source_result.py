"""What mapping one non-/colibri/stats source gives: samples plus the problems found.

Shaped like ``mapping.Mapped`` so a front end treats every source alike. ``as_output``
is the one place that decides the shape handed on: today a flat Sample list, as
``map_payload`` gives; when the core hands on families it groups them here.
"""
from __future__ import annotations

from typing import List, NamedTuple

from .samples import Sample


class SourceProblem(NamedTuple):
    """A value that was dropped, e.g. Jicofo's ``conferences`` sent as a string."""

    key: str
    expected: str
    got: str

    def message(self, bridge: str) -> str:
        return f'Bridge "{bridge}": key "{self.key}" expected {self.expected}, got {self.got}; field skipped'


class SourceMapped(NamedTuple):
    samples: List[Sample]
    problems: List[SourceProblem]
    notes: List[str]

    def warnings(self, bridge: str) -> List[str]:
        """One line per dropped value, then one per note about the source as a whole."""
        return [p.message(bridge) for p in self.problems] + [f'Bridge "{bridge}": {note}' for note in self.notes]


def as_output(samples: List[Sample]) -> List[Sample]:
    """The samples as the renderers take them (identity while they take Sample lists)."""
    return samples
