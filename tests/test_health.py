from __future__ import annotations

from jitsi_metrics.fetch import FetchConnectionError, FetchStatusError, FetchTimeout
from jitsi_metrics.health import ERROR, NOTICE, WARNING, BridgeHealth

DOWN = FetchTimeout("meet1", "http://x/", "no answer within 5 s (timeout)")
REFUSED = FetchConnectionError("meet1", "http://x/", "cannot connect: [Errno 111] Connection refused")
DRIFT = ['Bridge "meet1": key "threads" expected a number, got null; field skipped']


def status(code: int) -> FetchStatusError:
    return FetchStatusError("meet1", "http://x/", f"HTTP {code}", code)


def levels(events):
    return [event.level for event in events]


def test_reported_when_it_goes_bad_and_when_it_recovers():
    health = BridgeHealth("meet1")
    assert health.update(None) == []
    first = health.update(DOWN)
    assert levels(first) == [ERROR] and first[0].message.startswith('Bridge "meet1" (http://x/): no answer')
    assert health.update(DOWN) == []
    assert levels(health.update(REFUSED)) == [ERROR]  # a different failure is news
    assert health.update(None) == [(NOTICE, 'Bridge "meet1" is answering again')]
    assert health.update(None) == []


def test_a_change_of_http_status_is_news():
    # Keyed on the exception class, 404 (REST API off) then 503 (statistics off) was one
    # line: both are FetchStatusError. They ask for different fixes.
    health = BridgeHealth("meet1")
    assert levels(health.update(status(404))) == [ERROR]
    assert health.update(status(404)) == []
    changed = health.update(status(503))
    assert levels(changed) == [ERROR] and "HTTP 503" in changed[0].message
    assert health.update(status(503)) == []


def test_field_warnings_once_until_they_change():
    health = BridgeHealth("meet1")
    assert levels(health.update(None, DRIFT)) == [WARNING]
    assert health.update(None, DRIFT) == []
    assert health.update(None) == [(NOTICE, 'Bridge "meet1": every field is valid again')]
