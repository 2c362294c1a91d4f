"""A bounded pool of daemon threads for the runtime's polls.

concurrent.futures.ThreadPoolExecutor joins its threads when the interpreter exits, so
one poll stuck in a misbehaving bridge's socket would hold up the exit of a front end
Telegraf has told to stop. Threads here are daemons: the process ends when the main
thread does, and a stuck poll's result is simply never read.
"""
from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from typing import Any, Callable, List, Optional, Tuple

_Job = Optional[Tuple["Future[Any]", Callable[..., Any], Tuple[Any, ...]]]


class DaemonPool:
    """At most ``workers`` daemon threads, started as jobs arrive; ``shutdown`` ends them
    once their current job does and cancels the jobs not yet started."""

    def __init__(self, workers: int, name: str = "jitsi-poll") -> None:
        if workers < 1:
            raise ValueError(f"workers {workers!r} must be at least 1")
        self._max = workers
        self._name = name
        self._jobs: "queue.SimpleQueue[_Job]" = queue.SimpleQueue()
        self._threads: List[threading.Thread] = []
        self._idle = 0  # workers waiting for a job
        self._pending = 0  # jobs not yet taken by a worker
        self._lock = threading.Lock()
        self._shut = False

    def submit(self, fn: Callable[..., Any], *args: Any) -> "Future[Any]":
        future: "Future[Any]" = Future()
        with self._lock:
            if self._shut:
                raise RuntimeError("the pool is shut down")
            self._jobs.put((future, fn, args))
            self._pending += 1
            if self._pending > self._idle and len(self._threads) < self._max:
                thread = threading.Thread(target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()
        return future

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            job = self._jobs.get()
            with self._lock:
                self._idle -= 1
                if job is not None:
                    self._pending -= 1
            if job is None:
                return
            future, fn, args = job
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args))
                except BaseException as exc:  # handed to whoever reads the future
                    future.set_exception(exc)

    def shutdown(self) -> None:
        with self._lock:
            self._shut = True
            threads = len(self._threads)
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job[0].cancel()
        for _ in range(threads):
            self._jobs.put(None)


__all__ = ["DaemonPool"]
