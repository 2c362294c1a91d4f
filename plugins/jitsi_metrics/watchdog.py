"""One thread for every HTTP client of the process that cuts a socket off at its deadline."""
from __future__ import annotations

import itertools
import math
import socket
import threading
import time
from typing import Dict, Optional, Tuple


class _Watchdog:
    """One thread for every client of the process: shuts a socket down when its deadline passes.

    A socket's timeout applies to each read, so a bridge that trickles its headers
    or body a byte at a time (or sends "100 Continue" forever) would never time out;
    shutting the socket down from this thread makes the blocked read return at the
    deadline. Waking the thread at every poll would cost more than the poll's mapping,
    so while idle it sleeps for one timeout span: a poll armed meanwhile has a later
    deadline than that wake-up and needs no notification. The thread starts with the
    first armed poll and ends once the last client has closed.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._armed: Dict[int, Tuple[float, socket.socket]] = {}
        self._ids = itertools.count()
        self._thread: Optional[threading.Thread] = None
        self._clients = 0
        self._wake_at = math.inf
        self._span = 1.0

    def register(self) -> None:
        with self._cond:
            self._clients += 1

    def unregister(self) -> None:
        with self._cond:
            self._clients = max(self._clients - 1, 0)
            if not self._clients:
                self._cond.notify()

    def arm(self, deadline: float, sock: socket.socket) -> int:
        token = next(self._ids)
        with self._cond:
            self._armed[token] = (deadline, sock)
            self._span = max(deadline - time.monotonic(), 0.001)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="jitsi-fetch-watchdog", daemon=True)
                self._thread.start()
            elif deadline < self._wake_at:
                self._cond.notify()
        return token

    def disarm(self, token: int) -> None:
        with self._cond:
            self._armed.pop(token, None)

    def _run(self) -> None:
        with self._cond:
            while self._clients or self._armed:
                now = time.monotonic()
                for token, (deadline, sock) in list(self._armed.items()):
                    if deadline <= now:
                        del self._armed[token]
                        try:
                            sock.shutdown(socket.SHUT_RDWR)
                        except Exception:  # the process's one watchdog must live on, whatever it was given
                            pass
                upcoming = [deadline for deadline, _ in self._armed.values()]
                self._wake_at = min(upcoming) if upcoming else now + self._span
                self._cond.wait(self._wake_at - now)
            self._thread = None
            self._wake_at = math.inf


WATCHDOG = _Watchdog()
