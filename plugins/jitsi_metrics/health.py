"""Which log lines a bridge's poll deserves: one when it goes bad, one when it recovers.

Front ends keep one ``BridgeHealth`` per bridge and print what ``update`` returns in
their host's idiom (Telegraf's ``E!``, collectd.error, the exporter's log). A bridge
that keeps failing the same way is reported once; a different failure is reported
again, because it is news.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

from .poll import PollResult

ERROR = "error"
WARNING = "warning"
INFO = "info"

LogLine = Tuple[str, str]


class BridgeHealth:
    def __init__(self, bridge: str) -> None:
        self.bridge = bridge
        self._failure: Optional[str] = None
        self._warnings: Tuple[str, ...] = ()

    def update(self, result: PollResult) -> List[LogLine]:
        lines: List[LogLine] = []
        if result.error is not None:
            failure = type(result.error).__name__
            if failure != self._failure:
                lines.append((ERROR, f"{result.error}; retrying at each poll, reporting once when it recovers"))
            self._failure = failure
            return lines
        if self._failure is not None:
            lines.append((INFO, f'Bridge "{self.bridge}" is answering again'))
            self._failure = None
        warnings = tuple(result.warnings)
        if warnings != self._warnings:
            lines.extend((WARNING, w) for w in warnings if w not in self._warnings)
            if self._warnings and not warnings:
                lines.append((INFO, f'Bridge "{self.bridge}": every field is valid again'))
            self._warnings = warnings
        return lines
