from __future__ import annotations

from jitsi_metrics.fetch import FetchStatusError, FetchTimeout
from jitsi_metrics.health import ERROR, INFO, WARNING, BridgeHealth
from jitsi_metrics.poll import PollResult

OK = PollResult("meet1", [], [], None)
DOWN = PollResult("meet1", [], [], FetchTimeout("meet1", "http://x/", "no answer within 5 s (timeout)"))
BROKEN = PollResult("meet1", [], [], FetchStatusError("meet1", "http://x/", "HTTP 500", 500))
DRIFT = PollResult("meet1", [], ['Bridge "meet1": key "threads" expected a number, got null; field skipped'], None)


def levels(lines):
    return [level for level, _ in lines]


def test_reported_when_it_goes_bad_and_when_it_recovers():
    health = BridgeHealth("meet1")
    assert health.update(OK) == []
    first = health.update(DOWN)
    assert levels(first) == [ERROR] and first[0][1].startswith('Bridge "meet1" (http://x/): no answer')
    assert health.update(DOWN) == []
    assert levels(health.update(BROKEN)) == [ERROR]  # a different failure is news
    assert health.update(OK) == [(INFO, 'Bridge "meet1" is answering again')]
    assert health.update(OK) == []


def test_field_warnings_once_until_they_change():
    health = BridgeHealth("meet1")
    assert levels(health.update(DRIFT)) == [WARNING]
    assert health.update(DRIFT) == []
    assert health.update(OK) == [(INFO, 'Bridge "meet1": every field is valid again')]
