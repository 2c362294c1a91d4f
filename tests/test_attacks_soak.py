"""The short soak in CI: 300 polls per front end of one bridge cycling through every
fault mode; RSS, threads and fds must stay flat (bounded growth, nothing timed).
The full soak is ``python tests/soak.py --polls 10000`` (docs/attacks.md)."""
from __future__ import annotations

import pytest

from soak import FRONTENDS, soak

POLLS = 300
RSS_GROWTH_KB = 8 * 1024
PEAK_RSS_KB = 100 * 1024


@pytest.mark.integration
@pytest.mark.parametrize("frontend", FRONTENDS)
def test_soak_stays_flat(frontend: str) -> None:
    result = soak(frontend, POLLS, timeout=0.3, stop_on_failure=True)
    assert result.error is None and result.failed == 0, result
    assert result.end.rss_kb - result.start.rss_kb <= RSS_GROWTH_KB, result
    assert result.end.threads <= result.start.threads + 2, result
    assert result.end.fds <= result.start.fds + 2, result
    assert result.peak_rss_kb < PEAK_RSS_KB, result
