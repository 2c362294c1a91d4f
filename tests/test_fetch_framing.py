"""Answers whose framing does not add up: a body shorter than its Content-Length, two
Content-Length values that disagree, a Content-Length that is not an ASCII number."""
from __future__ import annotations

from typing import Callable

import pytest

from jitsi_metrics.config import bridge_options
from jitsi_metrics.fetch import BridgeClient, FetchConnectionError, FetchError
from raw_bridge import RawBridge

PAYLOAD = b'{"conferences": 3}'


def _fetch(raw_bridges: Callable[..., RawBridge], answer: bytes) -> BridgeClient:
    """A client of a bridge that sends ``answer`` to each request, then closes."""
    server = raw_bridges(answer=answer, close_when_idle=True)
    return BridgeClient(bridge_options(server.url, name="meet1", timeout=2))


def test_a_body_cut_short_of_its_content_length_is_a_broken_connection(raw_bridges):
    # The bridge (or a proxy) closes before the whole body came. What came may even parse.
    client = _fetch(raw_bridges, b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + PAYLOAD)
    with client, pytest.raises(FetchConnectionError, match=r"connection broke while reading: .*82 more expected"):
        client.fetch()


def test_two_content_lengths_that_disagree_are_refused(raw_bridges):
    client = _fetch(raw_bridges, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: %d\r\n\r\n%s"
                    % (len(PAYLOAD), PAYLOAD))
    with client, pytest.raises(FetchConnectionError, match="Content-Length"):
        client.fetch()


def test_the_same_content_length_twice_is_fine(raw_bridges):
    client = _fetch(raw_bridges, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Length: %d\r\n\r\n%s"
                    % (len(PAYLOAD), len(PAYLOAD), PAYLOAD))
    with client:
        assert client.fetch() == {"conferences": 3}


@pytest.mark.parametrize("value", [b"\xb2", b"\xb9\xb2"])  # superscript digits: str.isdigit() says yes
def test_a_content_length_of_non_ascii_digits_is_no_crash(raw_bridges, value):
    # It was a ValueError from int(), reported as "a bug in jitsi-meet-metrics".
    client = _fetch(raw_bridges, b"HTTP/1.1 200 OK\r\nContent-Length: " + value + b"\r\n\r\n" + PAYLOAD)
    with client:
        try:
            client.fetch()
        except FetchError:
            pass
