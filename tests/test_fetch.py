from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time

import pytest

from conftest import REPO, child_env, missing
from hostile_bridge import DOWN, MODES, HostileBridge
from jitsi_metrics.config import bridge_options
from jitsi_metrics.fetch import (
    BridgeClient,
    FetchConnectionError,
    FetchEncoded,
    FetchError,
    FetchNotJSON,
    FetchNotObject,
    FetchStatusError,
    FetchTimeout,
    FetchTooLarge,
)
from jitsi_metrics.logtext import MAX_LINE


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
    # JVB ignores --apis since stable-8044; docker-jitsi-meet's spelling is JVB_ENABLE_APIS.
    assert "--apis" not in str(caught.value) and "JVB_ENABLE_APIS=rest" in str(caught.value)


def test_refused_connection(clients):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = clients(f"http://127.0.0.1:{port}/colibri/stats", timeout=1)
    with pytest.raises(FetchConnectionError, match="cannot connect"):
        client.fetch()


@pytest.mark.parametrize("seconds", [0.0, -0.25])
def test_no_time_left_is_a_timeout_without_a_request(bridge_server, client_for, seconds):
    # A socket timeout of 0 would mean non-blocking (and urllib3 refused it with ValueError,
    # which the runtime once reported as a bug): no request is made at all.
    client = client_for(bridge_server)
    with pytest.raises(FetchTimeout, match="timeout"):
        client.fetch(seconds)
    assert bridge_server.requests == 0


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


# --- hostile bridges (issue 11) --------------------------------------------------------

@pytest.fixture(scope="module")
def hostile():
    with HostileBridge() as bridge:
        yield bridge


@pytest.mark.parametrize("mode", ["slow-headers", "continue-flood"])
def test_the_deadline_covers_headers_that_never_finish(hostile, clients, mode):
    # Each byte restarts the per-read socket timeout, so only the watchdog's deadline,
    # armed when the request goes out, ends this; before, the poll never ended.
    client = clients(hostile.url(mode), timeout=1)
    start = time.monotonic()
    with pytest.raises(FetchTimeout, match="timeout"):
        client.fetch()
    assert time.monotonic() - start < 2


def test_no_compressed_body_is_asked_for_nor_accepted(hostile, clients):
    with pytest.raises(FetchEncoded, match="'gzip, gzip'"):
        clients(hostile.url("gzip-bomb"), timeout=5).fetch()
    assert b"\r\nAccept-Encoding: identity\r\n" in hostile.request_heads["gzip-bomb"][-1]


DEBIAN_PYTHON = "/usr/bin/python3"


# What the fetch makes of each mode; DOWN modes not named here must fail in some other way.
DEBIAN_ERRORS = {"gzip-bomb": "FetchEncoded", "slow-headers": "FetchTimeout", "continue-flood": "FetchTimeout",
                 "hang": "FetchTimeout", "trickle": "FetchTimeout", "huge-body": "FetchTooLarge",
                 "status-404": "FetchStatusError", "status-503": "FetchStatusError", "deep-nesting": "FetchNotJSON"}


def test_every_hostile_bridge_under_debians_python():
    # collectd runs the fetch path in Debian's own python3 (its http.client and ssl, not
    # this venv's): every mode goes through that fetch too.
    if not os.access(DEBIAN_PYTHON, os.X_OK):
        missing(f"{DEBIAN_PYTHON} is not installed")
    modes = [m for m in MODES if m not in ("refused", "userinfo")]
    env = child_env(PYTHONPATH=os.pathsep.join([str(REPO / "plugins"), str(REPO / "tests")]))
    done = subprocess.run([DEBIAN_PYTHON, str(REPO / "tests" / "hostile_bridge.py"), "1", *modes],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["executable"] == DEBIAN_PYTHON, report["executable"]  # the point: not this venv's Python
    assert report["max_rss_mb"] < 100
    for mode in modes:
        outcome = report["modes"][mode]
        assert outcome["seconds"] < 2, (mode, outcome)
        if MODES[mode] == DOWN:
            assert outcome["error"] == DEBIAN_ERRORS.get(mode, outcome["error"]) and outcome["error"], (mode, outcome)
            message = str(outcome["message"])
            assert len(message) < MAX_LINE and not any(ord(c) < 32 for c in message), (mode, message[:200])
        elif mode != "surrogate-raw":  # raw ED A0 80 is not UTF-8: refusing it as not JSON is fine too
            assert outcome["error"] is None, (mode, outcome)


@pytest.mark.parametrize("mode", ["hostile-reason", "hostile-content-type"])
def test_bridge_text_in_errors_is_escaped_and_bounded(hostile, clients, mode):
    with pytest.raises(FetchError) as caught:
        clients(hostile.url(mode), name="meet1", timeout=5).fetch()
    text = str(caught.value)
    assert len(text) < MAX_LINE
    assert not any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in text), text
    assert "\\x1b" in text  # escaped, still visible


def test_credentials_in_the_url_are_sent_but_never_shown(bridge_server, clients):
    url = bridge_server.url.replace("http://", "http://jvb:s3cr%40t@")
    client = clients(url, name="meet1")
    client.fetch()
    assert bridge_server.last_headers["Authorization"] == "Basic " + base64.b64encode(b"jvb:s3cr@t").decode()
    assert "s3cr" not in client.options.url and "s3cr" not in repr(client.options)
    bridge_server.fault = "html-500"
    with pytest.raises(FetchStatusError) as caught:
        client.fetch()
    assert "s3cr" not in str(caught.value) and "jvb" not in str(caught.value)


def test_deeply_nested_json_is_not_json_not_a_crash(bridge_server, client_for):
    bridge_server.payload = b"[" * 100000 + b"]" * 100000
    with pytest.raises(FetchNotJSON, match="nests too deeply"):
        client_for(bridge_server).fetch()


WATCHDOG_THREADS = """
import sys, threading
from jitsi_metrics.config import bridge_options
from jitsi_metrics.fetch import BridgeClient
from waiting import wait_until

def watchdogs():
    return [t for t in threading.enumerate() if t.name == "jitsi-fetch-watchdog"]

made = [BridgeClient(bridge_options(sys.argv[1], name=f"b{i}")) for i in range(3)]
for client in made:
    client.fetch()
print(len(watchdogs()))
for client in made:
    client.close()
wait_until(lambda: not watchdogs(), what="the watchdog thread to end")
print(len(watchdogs()), threading.active_count())
"""


def test_one_watchdog_thread_for_every_client_gone_when_the_last_closes(bridge_server):
    # In a process of its own: the watchdog is shared by every client of the process.
    # Before, each client started a watchdog thread that never ended.
    env = child_env(PYTHONPATH=os.pathsep.join([str(REPO / "plugins"), str(REPO / "tests")]))
    done = subprocess.run([sys.executable, "-c", WATCHDOG_THREADS, bridge_server.url], capture_output=True,
                          text=True, env=env, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "0", "1"]
