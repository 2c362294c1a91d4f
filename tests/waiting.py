"""One way for a test to wait for something to become true."""
from __future__ import annotations

import time
from typing import Callable, Optional, TypeVar

T = TypeVar("T")


def wait_until(condition: Callable[[], Optional[T]], timeout: float = 5.0, interval: float = 0.01,
               what: str = "the condition") -> T:
    """Call ``condition`` until it returns something truthy and return that; fail the test
    with ``what`` in the message once ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)
