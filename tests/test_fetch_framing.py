"""Answers whose framing does not add up: a body shorter than its Content-Length, two
Content-Length values that disagree, a Content-Length that is not an ASCII number."""
from __future__ import annotations

import socket
import threading
from typing import Iterator

import pytest

from jitsi_metrics.config import bridge_options
from jitsi_metrics.fetch import BridgeClient, FetchConnectionError, FetchError

PAYLOAD = b'{"conferences": 3}'


class OneShot:
    """Answers every connection on 127.0.0.1 with ``answer`` once its request head is in,
    then closes it."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/colibri/stats"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    head += chunk
                conn.sendall(self.answer)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def one_shot() -> Iterator[list]:
    made: list = []
    yield made
    for server in made:
        server.close()


def _fetch(one_shot: list, answer: bytes) -> BridgeClient:
    server = OneShot(answer)
    one_shot.append(server)
    return BridgeClient(bridge_options(server.url, name="meet1", timeout=2))


def test_a_body_cut_short_of_its_content_length_is_a_broken_connection(one_shot):
    # The bridge (or a proxy) closes before the whole body came. What came may even parse.
    client = _fetch(one_shot, b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + PAYLOAD)
    with client, pytest.raises(FetchConnectionError, match=r"connection broke while reading: .*82 more expected"):
        client.fetch()


def test_two_content_lengths_that_disagree_are_refused(one_shot):
    client = _fetch(one_shot, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: %d\r\n\r\n%s"
                    % (len(PAYLOAD), PAYLOAD))
    with client, pytest.raises(FetchConnectionError, match="Content-Length"):
        client.fetch()


def test_the_same_content_length_twice_is_fine(one_shot):
    client = _fetch(one_shot, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Length: %d\r\n\r\n%s"
                    % (len(PAYLOAD), len(PAYLOAD), PAYLOAD))
    with client:
        assert client.fetch() == {"conferences": 3}


@pytest.mark.parametrize("value", [b"\xb2", b"\xb9\xb2"])  # superscript digits: str.isdigit() says yes
def test_a_content_length_of_non_ascii_digits_is_no_crash(one_shot, value):
    # It was a ValueError from int(), reported as "a bug in jitsi-meet-metrics".
    client = _fetch(one_shot, b"HTTP/1.1 200 OK\r\nContent-Length: " + value + b"\r\n\r\n" + PAYLOAD)
    with client:
        try:
            client.fetch()
        except FetchError:
            pass
