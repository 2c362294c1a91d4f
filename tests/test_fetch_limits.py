"""The size cap of fetch.py on bodies that do not announce their length.

The Content-Length pre-check is tested in test_fetch.py; here the body comes chunked, or until
the connection closes, or gzip-compressed, so only the count of the bytes actually read can
stop it. The server is a raw socket on 127.0.0.1 that writes exactly the bytes each test gives.
"""
from __future__ import annotations

import gzip
import socket
import threading
from contextlib import contextmanager
from typing import Callable, Iterator, List

import pytest

from jitsi_metrics.config import bridge_options
from jitsi_metrics.fetch import BridgeClient, FetchEncoded, FetchTooLarge
from raw_bridge import read_head

CAP = 4096
Answer = Callable[[socket.socket], None]


@contextmanager
def raw_bridge(answer: Answer) -> Iterator[str]:
    """A one-connection HTTP server on 127.0.0.1 that reads the request, then runs ``answer``."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    errors: List[BaseException] = []

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return  # closed before any client came
        with conn:
            if not read_head(conn):
                return
            try:
                answer(conn)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading, as it should once over the cap
            except BaseException as exc:  # surfaced by the test, not lost in the thread
                errors.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/colibri/stats"
    finally:
        listener.close()
        thread.join(10)
    assert not thread.is_alive() and errors == []


def json_body(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes."""
    head, tail = b'{"conferences": 1, "padding": "', b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def chunked(body: bytes, endless: bool = False) -> Answer:
    def answer(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        while True:
            for start in range(0, len(body), 1000):
                piece = body[start:start + 1000]
                conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            if not endless:
                break
        conn.sendall(b"0\r\n\r\n")
    return answer


def until_close(body: bytes, headers: bytes = b"") -> Answer:
    def answer(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n" + headers + b"\r\n")
        conn.sendall(body)
    return answer


def fetch(url: str) -> object:
    with BridgeClient(bridge_options(url, name="meet1", max_bytes=CAP, timeout=5)) as client:
        return client.fetch()


@pytest.mark.parametrize("answer", [
    pytest.param(chunked(json_body(CAP + 1)), id="chunked"),
    pytest.param(until_close(json_body(CAP + 1)), id="until-close"),
    pytest.param(chunked(b'{"padding": "' + b"x" * 1000, endless=True), id="endless-chunked"),
])
def test_a_body_one_byte_over_the_cap_without_content_length_is_refused(answer: Answer) -> None:
    with raw_bridge(answer) as url:
        with pytest.raises(FetchTooLarge) as caught:
            fetch(url)
    assert str(caught.value) == f'Bridge "meet1" ({url}): body is over the {CAP}-byte cap'


@pytest.mark.parametrize("answer", [
    pytest.param(chunked(json_body(CAP)), id="chunked"),
    pytest.param(until_close(json_body(CAP)), id="until-close"),
])
def test_a_body_of_exactly_the_cap_is_read(answer: Answer) -> None:
    with raw_bridge(answer) as url:
        payload = fetch(url)
    assert payload == {"conferences": 1, "padding": "x" * (CAP - len(b'{"conferences": 1, "padding": ""}'))}


def test_a_compressed_body_is_refused_never_inflated() -> None:
    # 1 MB of JSON that gzip packs into about 1 KB. We ask for identity (no compression),
    # so a bridge that compresses anyway is refused unread: nothing is inflated.
    packed = gzip.compress(json_body(1_000_000))
    assert len(packed) < CAP
    with raw_bridge(until_close(packed, b"Content-Encoding: gzip\r\n")) as url:
        with pytest.raises(FetchEncoded, match="gzip"):
            fetch(url)
