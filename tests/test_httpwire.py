"""Request framing and response encoding, as pure functions of bytes."""
from __future__ import annotations

import pytest

from jitsi_metrics.httpwire import Head, Refusal, Request, Response, encode_response, http_date, parse_head

GET = b"GET /probe?target=meet1 HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nx-a: 2\r\n\r\n"


def test_a_complete_head_gives_the_request_its_size_and_keep_alive() -> None:
    head = parse_head(GET + b"GET /next", 16384)
    assert head == Head(Request("GET", "/probe", "target=meet1", {"host": "x", "x-a": "1, 2"}), len(GET), 0, True,
                        False)


@pytest.mark.parametrize("cut", [1, 10, len(GET) - 3, len(GET) - 2, len(GET) - 1])
def test_an_incomplete_head_waits_for_more(cut: int) -> None:
    # A cut between CR and LF must not look like a bare CR.
    assert parse_head(GET[:cut], 16384) is None


def test_absolute_form_targets_are_served_by_path() -> None:
    head = parse_head(b"GET http://exporter:9888/metrics?x=1 HTTP/1.1\r\nHost: exporter\r\n\r\n", 16384)
    assert isinstance(head, Head) and (head.request.path, head.request.query) == ("/metrics", "x=1")


def test_a_body_is_framed_by_its_length() -> None:
    head = parse_head(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\nContent-Length: 40\r\n\r\n", 16384)
    assert isinstance(head, Head) and head.body_length == 40


def test_a_head_that_never_ends_is_refused_at_the_limit() -> None:
    assert parse_head(b"GET / HTTP/1.1\r\nX: " + b"a" * 100, 64) == Refusal(431, "request head longer than 64 bytes")


def test_encode_response_is_one_buffer_and_head_drops_the_body() -> None:
    response = Response(404, "text/plain", b"nope", (("Allow", "GET"),))
    data = encode_response(response, False, "close", "Thu, 01 Jan 1970 00:00:00 GMT", "s")
    assert data == (b"HTTP/1.1 404 Not Found\r\nServer: s\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
                    b"Content-Type: text/plain\r\nContent-Length: 4\r\nAllow: GET\r\nConnection: close\r\n\r\nnope")
    assert encode_response(response, True, None, "d", "s").endswith(b"Content-Length: 4\r\nAllow: GET\r\n\r\n")


@pytest.mark.parametrize("name, value", [("X", "a\r\nSet-Cookie: y"), ("X\r\nY", "z"), ("X", "a\rb")])
def test_encode_response_refuses_a_header_that_would_split_the_head(name: str, value: str) -> None:
    with pytest.raises(ValueError):
        encode_response(Response(200, "text/plain", b"", ((name, value),)), False, None, "d", "s")


def test_http_date_is_imf_fixdate() -> None:
    assert http_date(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT"
