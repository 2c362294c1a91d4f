"""BridgeClient's transport (the standard library's http.client): kept-alive connections
that the bridge closes, TLS, and the request it sends."""
from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator, List

import pytest

from conftest import missing
from jitsi_metrics import __version__
from jitsi_metrics.config import bridge_options
from jitsi_metrics.fetch import BridgeClient, FetchConnectionError
from jitsi_metrics.watchdog import WATCHDOG
from raw_bridge import PAYLOAD


def test_a_connection_the_bridge_closed_while_idle_is_replaced_unnoticed(raw_bridges):
    bridge = raw_bridges(close_when_idle=True)
    with BridgeClient(bridge_options(bridge.url)) as client:
        assert [client.fetch()["conferences"] for _ in range(3)] == [3, 3, 3]
    assert bridge.connections == 3 and bridge.requests == 3


def test_a_connection_holding_bytes_nobody_asked_for_is_not_reused(raw_bridges):
    # Read as the next answer, they would pass for the bridge's answer to the next poll.
    bridge = raw_bridges(answered=5, trailing=b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
    with BridgeClient(bridge_options(bridge.url)) as client:
        for _ in range(3):
            assert client.fetch() == json.loads(PAYLOAD)
            time.sleep(0.2)  # the bytes arrive meanwhile
    assert bridge.connections == 3


def test_a_kept_alive_connection_closed_as_the_request_went_out_is_asked_again_once(raw_bridges):
    # The race with a bridge's idle timeout: the request is sent on a connection the
    # bridge then closes without an answer. It is asked again on a new connection.
    bridge = raw_bridges(answered=1)
    with BridgeClient(bridge_options(bridge.url)) as client:
        assert [client.fetch()["participants"] for _ in range(3)] == [7, 7, 7]
    assert bridge.connections == 3 and bridge.requests == 5  # 1 + (1 lost + 1) + (1 lost + 1)


def test_a_new_connection_closed_without_an_answer_is_an_error_not_a_retry(raw_bridges):
    bridge = raw_bridges(answered=0)
    with BridgeClient(bridge_options(bridge.url, name="meet1")) as client:
        with pytest.raises(FetchConnectionError, match=r'^Bridge "meet1" .*closed connection without response'):
            client.fetch()
    assert bridge.connections == 1 and bridge.requests == 1


def test_the_request_names_us_and_asks_for_identity(bridge_server):
    with BridgeClient(bridge_options(bridge_server.url)) as client:
        client.fetch()
    assert bridge_server.last_headers["User-Agent"] == f"jitsi-meet-metrics/{__version__}"
    assert bridge_server.last_headers["Accept-Encoding"] == "identity"


@pytest.mark.parametrize("password, raw", [("s3cr\u00e9t", "jvb:s3cr\u00e9t".encode("latin-1")),
                                           ("\u043f\u0430\u0440\u043e\u043b\u044c",
                                            "jvb:\u043f\u0430\u0440\u043e\u043b\u044c".encode("utf-8"))])
def test_basic_credentials_are_latin1_when_they_can_be_else_utf8(bridge_server, password, raw):
    with BridgeClient(bridge_options(bridge_server.url, username="jvb", password=password)) as client:
        client.fetch()
    assert bridge_server.last_headers["Authorization"] == "Basic " + base64.b64encode(raw).decode()


def test_a_path_with_unsafe_characters_is_sent_percent_encoded(raw_bridges):
    bridge = raw_bridges(answered=1)
    with BridgeClient(bridge_options(bridge.url.replace("/colibri/stats", "/colibri/st ats?x=a b\x1b"))) as client:
        client.fetch()
    assert bridge.heads[0].startswith(b"GET /colibri/st%20ats?x=a%20b%1B HTTP/1.1\r\n")


# -- TLS -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> Path:
    """A self-signed certificate for 127.0.0.1 (key and certificate in one PEM file)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        missing("openssl is not installed (Debian: apt-get install openssl)")
    folder = tmp_path_factory.mktemp("tls")
    pem = folder / "bridge.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(folder / "key.pem"),
                    "-out", str(folder / "cert.pem")], check=True, capture_output=True, timeout=60)
    pem.write_text((folder / "key.pem").read_text() + (folder / "cert.pem").read_text())
    return pem


@pytest.fixture
def tls_bridge(certificate) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(certificate))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}/colibri/stats"
    server.shutdown()
    server.server_close()


def test_https_with_the_bridges_own_ca_file(tls_bridge, certificate):
    with BridgeClient(bridge_options(tls_bridge, ca_file=str(certificate))) as client:
        assert client.fetch()["conferences"] == 3
        assert client.fetch()["conferences"] == 3


def test_https_to_an_unknown_certificate_is_refused_with_the_reason(tls_bridge):
    with BridgeClient(bridge_options(tls_bridge, name="meet1")) as client:
        with pytest.raises(FetchConnectionError,
                           match=r'^Bridge "meet1" .*cannot connect: .*CERTIFICATE_VERIFY_FAILED'):
            client.fetch()


def test_https_without_verification_when_the_user_turns_it_off(tls_bridge):
    with BridgeClient(bridge_options(tls_bridge, verify_tls=False)) as client:
        assert client.fetch()["participants"] == 7


def test_a_kept_alive_connection_is_reused_when_its_fd_is_above_1023(raw_bridges):
    # select() cannot take an fd of 1024 or more: every poll of a process with that many
    # files open (an exporter of a few hundred bridges) would open a new connection.
    resource = pytest.importorskip("resource")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"the hard limit of open files is {hard}")
    bridge = raw_bridges(answered=5)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    filler: List[int] = []
    try:
        while not filler or filler[-1] < 1100:
            filler.append(os.open(os.devnull, os.O_RDONLY))
        with BridgeClient(bridge_options(bridge.url)) as client:
            assert [client.fetch()["conferences"] for _ in range(3)] == [3, 3, 3]
    finally:
        for fd in filler:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert bridge.connections == 1


def test_close_on_another_thread_during_connect_closes_the_new_connection(raw_bridges, monkeypatch):
    # Runtime.close() while a poll's connect (or TLS handshake) is under way: close() finds
    # no socket yet; the socket connect() then makes must not outlive the poll.
    bridge = raw_bridges()
    client = BridgeClient(bridge_options(bridge.url))
    made: List[http.client.HTTPConnection] = []
    connect = http.client.HTTPConnection.connect

    def closed_meanwhile(conn: http.client.HTTPConnection) -> None:
        made.append(conn)
        client.close()
        connect(conn)

    monkeypatch.setattr(http.client.HTTPConnection, "connect", closed_meanwhile)
    with pytest.raises(FetchConnectionError, match="closed"):
        client.fetch()
    assert made and made[0].sock is None


def test_close_on_another_thread_before_the_request_goes_out_opens_nothing(raw_bridges, monkeypatch):
    # close() lands between taking the kept-alive connection and sending on it: http.client
    # must not open a new connection behind our back (left open, its socket unwatched).
    bridge = raw_bridges(answered=5)
    client = BridgeClient(bridge_options(bridge.url))
    assert client.fetch()["conferences"] == 3
    connection = BridgeClient._connection

    def closed_meanwhile(self: BridgeClient, deadline: float, seconds: float):  # type: ignore[no-untyped-def]
        got = connection(self, deadline, seconds)
        self.close()
        return got

    monkeypatch.setattr(BridgeClient, "_connection", closed_meanwhile)
    with pytest.raises(FetchConnectionError, match="closed"):
        client.fetch()
    time.sleep(0.1)
    assert bridge.connections == 1
    assert WATCHDOG._thread is None or WATCHDOG._thread.is_alive()
