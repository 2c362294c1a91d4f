"""Stopping on SIGTERM/SIGINT between two pieces of work, never inside one.

Raising from a signal handler unwinds the main thread wherever it is, possibly inside
``stdout.write`` (half a batch for Telegraf), and a handler that takes a lock can
deadlock against the code it interrupted. So the handler here only sets a flag and
writes one byte to a pipe; the main thread waits on that pipe (``Wakeup.wait``) and
checks the flag when it is between two batches or two requests.
"""
from __future__ import annotations

import os
import select
import signal
import threading
from typing import Any, Dict, Optional

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Wakeup:
    """A self-pipe: ``wake()`` is safe from a signal handler or any thread;
    ``wait()`` returns at the first wake-up or after ``timeout`` seconds."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        self._closed = False
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)

    def wake(self) -> None:
        if self._closed:  # its descriptor number may already belong to another file
            return
        try:
            os.write(self._write, b"!")
        except OSError:  # the pipe is full (a wake-up is pending anyway) or closed
            pass

    def wait(self, timeout: Optional[float] = None) -> None:
        readable, _, _ = select.select([self._read], [], [], None if timeout is None else max(timeout, 0.0))
        if readable:
            try:
                os.read(self._read, 4096)
            except OSError:
                pass

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for fd in (self._read, self._write):
            try:
                os.close(fd)
            except OSError:
                pass


class StopSignals:
    """While active (``with``), SIGTERM and SIGINT set ``requested`` and wake ``wakeup``.

    Handlers are installed only in the main thread (Python allows nothing else) and the
    previous ones are restored on leaving.
    """

    def __init__(self, wakeup: Wakeup) -> None:
        self.wakeup = wakeup
        self.requested = False
        self._previous: Dict[int, Any] = {}

    def _on_signal(self, signum: int, frame: object) -> None:
        self.requested = True
        self.wakeup.wake()

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._on_signal) for s in STOP_SIGNALS}
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}


class Trigger:
    """Requests for a poll, coalesced: at most one is pending, like the buffer of one
    trigger in Telegraf's own execd shim. Lines that queue up behind a slow bridge
    give one more poll, not a burst of them."""

    def __init__(self, wakeup: Wakeup) -> None:
        self._wakeup = wakeup
        self._lock = threading.Lock()  # never taken by a signal handler
        self._pending = False
        self.closed = False

    def pull(self) -> None:
        with self._lock:
            self._pending = True
        self._wakeup.wake()

    def close(self) -> None:
        self.closed = True
        self._wakeup.wake()

    def take(self) -> bool:
        """True (and no longer pending) if a poll was requested."""
        with self._lock:
            pending, self._pending = self._pending, False
        return pending


def wait_for_signal() -> None:
    """Block the main thread until SIGTERM or SIGINT."""
    wakeup = Wakeup()
    try:
        with StopSignals(wakeup) as stop:
            while not stop.requested:
                wakeup.wait()
    finally:
        wakeup.close()


__all__ = ["StopSignals", "Trigger", "Wakeup", "wait_for_signal"]
