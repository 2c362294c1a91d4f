from __future__ import annotations

import base64
import json
import socket
import time

import pytest

from jitsi_metrics.config import bridge_options
from jitsi_metrics.fetch import (
    BridgeClient, FetchConnectionError, FetchNotJSON, FetchNotObject, FetchStatusError, FetchTimeout, FetchTooLarge,
)


@pytest.fixture
def clients():
    """Makes clients and closes them after the test, so no socket is left open."""
    made = []

    def make(url, **options):
        made.append(BridgeClient(bridge_options(url, **options)))
        return made[-1]

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client_for(clients):
    return lambda server, **options: clients(server.url, name="meet1", **options)


def test_reads_the_payload_over_one_kept_alive_connection(bridge_server, client_for):
    client = client_for(bridge_server)
    payloads = [client.fetch() for _ in range(3)]
    assert all(p["version"].startswith("2.3") for p in payloads)
    assert bridge_server.requests == 3 and bridge_server.connections == 1
    assert bridge_server.last_headers["Accept"] == "application/json"


def test_replayed_bytes_come_back_as_they_are(bridge_server, client_for):
    bridge_server.payload = b'{"conference_sizes": "[]", "threads": 5}'
    assert client_for(bridge_server).fetch() == {"conference_sizes": "[]", "threads": 5}


@pytest.mark.parametrize("fault, error, words", [
    ("html-500", FetchStatusError, "HTTP 500"),
    ("not-json", FetchNotJSON, "is not JSON"),
    ("json-array", FetchNotObject, "expected an object"),
    ("close", FetchConnectionError, "connection"),
])
def test_failures_are_one_line_naming_bridge_and_url(bridge_server, client_for, fault, error, words):
    bridge_server.fault = fault
    with pytest.raises(error) as caught:
        client_for(bridge_server).fetch()
    text = str(caught.value)
    assert text.startswith(f'Bridge "meet1" ({bridge_server.url}): ') and "\n" not in text
    assert words in text


def test_404_hints_at_enabling_the_rest_api(bridge_server, clients):
    bridge_server.rest_enabled = False  # a default-config JVB: 404 on /colibri/stats
    client = clients(bridge_server.url, name="meet1")
    with pytest.raises(FetchStatusError) as caught:
        client.fetch()
    assert caught.value.status == 404 and "videobridge.apis.rest.enabled" in str(caught.value)


def test_refused_connection(clients):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = clients(f"http://127.0.0.1:{port}/colibri/stats", timeout=1)
    with pytest.raises(FetchConnectionError, match="cannot connect"):
        client.fetch()


@pytest.mark.parametrize("fault", ["hang", "trickle"])
def test_timeout_bounds_the_whole_request_body_included(bridge_server, client_for, fault):
    # A trickling body keeps every single socket read short, so only a deadline on the
    # whole request stops it; without one this would take minutes, not about 0.5 s.
    bridge_server.fault = fault
    client = client_for(bridge_server, timeout=0.5)
    start = time.monotonic()
    with pytest.raises(FetchTimeout, match="timeout"):
        client.fetch()
    assert time.monotonic() - start < 10
    bridge_server.fault = None
    assert client.fetch()["conferences"] >= 0  # the client recovers on a new connection


def test_size_cap_is_enforced_while_reading(bridge_server, client_for):
    bridge_server.payload = json.dumps({"x": "y" * 5000}).encode()
    with pytest.raises(FetchTooLarge, match="1000-byte cap"):
        client_for(bridge_server, max_bytes=1000).fetch()


def test_basic_auth_and_bearer_token(bridge_server, client_for):
    client_for(bridge_server, username="jvb", password="s3cret").fetch()
    expected = "Basic " + base64.b64encode(b"jvb:s3cret").decode()
    assert bridge_server.last_headers["Authorization"] == expected
    client_for(bridge_server, token="tok").fetch()
    assert bridge_server.last_headers["Authorization"] == "Bearer tok"


def test_tls_verification_failure_is_a_connection_error(bridge_server, clients):
    # The simulated bridge speaks plain HTTP; https to it fails the TLS handshake.
    client = clients(bridge_server.url.replace("http://", "https://"), timeout=2)
    with pytest.raises(FetchConnectionError):
        client.fetch()


def test_connection_errors_name_the_innermost_reason(clients):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(FetchConnectionError) as caught:
        clients(f"http://127.0.0.1:{port}/colibri/stats", timeout=1).fetch()
    assert str(caught.value).endswith("Connection refused")
    assert " object at 0x" not in str(caught.value)
