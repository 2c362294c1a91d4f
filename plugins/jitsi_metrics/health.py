"""Which log lines a bridge's polls deserve: news only, never one per poll.

The runtime keeps one ``BridgeHealth`` per bridge and hands each front end the events
``update`` returns, which it prints in its host's idiom (Telegraf's ``E!``,
collectd.warning, the exporter's logfmt). The events:

- went bad: the first failed poll (error);
- changed reason: a failure with another ``cause`` than the last one, e.g. HTTP 404
  (REST API off) followed by HTTP 503 (statistics off), or a timeout followed by a
  refused connection (error);
- recovered: the first good poll after failures (notice);
- fields dropped: a field warning not given on the previous poll (warning); a warning
  is known by its ``ident`` (key and expected type, check.FieldWarning) when it has one,
  else by its text, so a field that keeps its wrong type but changes its value is not news;
- fields valid again: a good poll without warnings after one with some (notice).

A bridge that keeps failing for the same cause, or keeps dropping the same fields, is
reported once.
"""
from __future__ import annotations

from typing import Hashable, List, NamedTuple, Optional, Sequence, Tuple

ERROR = "error"
WARNING = "warning"
NOTICE = "notice"


class Event(NamedTuple):
    level: str  # ERROR, WARNING or NOTICE
    message: str  # one line; bridge text in it is already escaped and bounded


class BridgeHealth:
    def __init__(self, bridge: str) -> None:
        self.bridge = bridge
        self._cause: Optional[str] = None
        self._warnings: Tuple[Hashable, ...] = ()  # the idents of the last poll's warnings

    def update(self, error: Optional[Exception], warnings: Sequence[str] = ()) -> List[Event]:
        """Events for one poll: ``error`` (with a ``cause`` attribute) if it failed, else
        the field warnings of the payload."""
        if error is not None:
            cause = str(getattr(error, "cause", type(error).__name__))
            events = []
            if cause != self._cause:
                events.append(Event(ERROR, f"{error}; retrying at each poll, reporting once when it recovers"))
            self._cause = cause
            return events
        events = []
        if self._cause is not None:
            events.append(Event(NOTICE, f'Bridge "{self.bridge}" is answering again'))
            self._cause = None
        current = tuple(_ident(w) for w in warnings)
        if current != self._warnings:
            events.extend(Event(WARNING, w) for w, ident in zip(warnings, current) if ident not in self._warnings)
            if self._warnings and not current:
                events.append(Event(NOTICE, f'Bridge "{self.bridge}": every field is valid again'))
            self._warnings = current
        return events


def _ident(warning: str) -> Hashable:
    # getattr, not an import of check.FieldWarning: notes and hints are plain text.
    ident: Hashable = getattr(warning, "ident", warning)
    return ident


__all__ = ["ERROR", "NOTICE", "WARNING", "BridgeHealth", "Event"]
