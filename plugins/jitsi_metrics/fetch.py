"""One HTTP poll of one bridge: a payload dict, or a FetchError.

Errors::

    FetchError              anything that cost this poll; str() is one line for a log
    ├── FetchTimeout        no complete answer within the timeout (body included)
    ├── FetchConnectionError refused, reset, DNS, TLS
    ├── FetchStatusError    HTTP status outside 2xx
    ├── FetchTooLarge       body over the size cap
    ├── FetchNotJSON        body is not JSON (an HTML error page, say)
    └── FetchNotObject      JSON, but not an object
"""
from __future__ import annotations

import itertools
import json
import math
import re
import socket
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import requests
import urllib3
from requests.utils import DEFAULT_CA_BUNDLE_PATH

from .config import BridgeOptions

CHUNK_BYTES = 65536

_STATUS_HINTS = {
    404: "is the REST API enabled? (JVB: videobridge.apis.rest.enabled=true, or --apis=rest)",
    503: "JVB 1.x answers 503 with statistics off (org.jitsi.videobridge.ENABLE_STATISTICS=true)",
    401: "check the username and password or token",
    403: "check the username and password or token",
}


class FetchError(Exception):
    def __init__(self, bridge: str, url: str, reason: str) -> None:
        super().__init__(f'Bridge "{bridge}" ({url}): {reason}')
        self.bridge = bridge
        self.url = url
        self.reason = reason


class FetchTimeout(FetchError):
    pass


class FetchConnectionError(FetchError):
    pass


class FetchStatusError(FetchError):
    def __init__(self, bridge: str, url: str, reason: str, status: int) -> None:
        super().__init__(bridge, url, reason)
        self.status = status


class FetchTooLarge(FetchError):
    pass


class FetchNotJSON(FetchError):
    pass


class FetchNotObject(FetchError):
    pass


class _Watchdog:
    """Shuts a socket down when its deadline passes.

    requests' timeout applies to each socket read, so a bridge that trickles its body
    a byte at a time would never time out; shutting the socket down from this thread
    makes the blocked read return at the deadline. Waking the thread at every poll
    would cost more than the poll's mapping, so while idle it sleeps for one timeout
    span: a poll armed meanwhile has a later deadline than that wake-up and needs no
    notification.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._armed: Dict[int, Tuple[float, socket.socket]] = {}
        self._ids = itertools.count()
        self._thread: Optional[threading.Thread] = None
        self._wake_at = math.inf
        self._span = 1.0

    def arm(self, deadline: float, sock: socket.socket) -> int:
        token = next(self._ids)
        with self._cond:
            self._armed[token] = (deadline, sock)
            self._span = max(deadline - time.monotonic(), 0.001)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="jitsi-fetch-watchdog", daemon=True)
                self._thread.start()
            elif deadline < self._wake_at:
                self._cond.notify()
        return token

    def disarm(self, token: int) -> None:
        with self._cond:
            self._armed.pop(token, None)

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                for token, (deadline, sock) in list(self._armed.items()):
                    if deadline <= now:
                        del self._armed[token]
                        try:
                            sock.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass
                upcoming = [deadline for deadline, _ in self._armed.values()]
                self._wake_at = min(upcoming) if upcoming else now + self._span
                self._cond.wait(self._wake_at - now)


def _response_socket(raw: Any) -> Optional[socket.socket]:
    connection = getattr(raw, "_connection", None)
    sock = getattr(connection, "sock", None)
    if isinstance(sock, socket.socket):
        return sock
    try:  # urllib3 releases that keep no reference to the connection
        candidate = raw._fp.fp.raw._sock
    except AttributeError:
        return None
    return candidate if isinstance(candidate, socket.socket) else None


def _snippet(body: bytes) -> str:
    text = body[:60].decode("utf-8", "replace").strip()
    return repr(text + ("…" if len(body) > 60 else ""))


class BridgeClient:
    """Polls one bridge over one kept-alive connection.

    requests builds the request once (headers, auth) and owns the connection pool; each
    poll then goes straight to that pool. Session.get would rebuild the request and read
    the environment again, and Session.send / HTTPAdapter.send would run cookie,
    redirect and response-wrapping code this endpoint never needs: together more than
    half of a poll's cost (docs/performance.md).
    """

    def __init__(self, options: BridgeOptions, session_factory: Callable[[], requests.Session] = requests.Session) -> None:
        self.options = options
        self.session = session_factory()
        self.session.trust_env = False
        headers = {"Accept": "application/json"}
        if options.token:
            headers["Authorization"] = f"Bearer {options.token}"
        auth = (options.username, options.password or "") if options.username else None
        request = requests.Request("GET", options.url, headers=headers, auth=auth)
        prepared = self.session.prepare_request(request)
        self._path = prepared.path_url
        self._headers = dict(prepared.headers)
        tls: Dict[str, Any] = {}
        if prepared.url and prepared.url.startswith("https:"):
            tls = {
                "cert_reqs": "CERT_REQUIRED" if options.verify_tls else "CERT_NONE",
                "ca_certs": options.ca_file or DEFAULT_CA_BUNDLE_PATH,
            }
        adapter = self.session.get_adapter(options.url)
        self._pool = adapter.poolmanager.connection_from_url(prepared.url, pool_kwargs=tls)
        self._watchdog = _Watchdog()

    def _error(self, kind: Callable[..., FetchError], reason: str, *extra: Any) -> FetchError:
        return kind(self.options.name, self.options.url, reason, *extra)

    def fetch(self, timeout: Optional[float] = None) -> Dict[str, Any]:
        """The bridge's payload, or a FetchError that says what went wrong.

        ``timeout`` overrides the configured one for this poll (an exporter cuts it to
        fit Prometheus' scrape timeout).
        """
        options = self.options
        seconds = options.timeout if timeout is None else timeout
        deadline = time.monotonic() + seconds
        try:
            response = self._pool.urlopen(
                "GET", self._path, headers=self._headers, preload_content=False, retries=False,
                redirect=False, timeout=urllib3.Timeout(connect=seconds, read=seconds),
            )
        except urllib3.exceptions.NewConnectionError as exc:  # a TimeoutError subclass in urllib3
            raise self._error(FetchConnectionError, f"cannot connect: {_root_cause(exc)}") from None
        except urllib3.exceptions.TimeoutError:
            raise self._error(FetchTimeout, f"no answer within {seconds:g} s (timeout)") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._error(FetchConnectionError, f"cannot connect: {_root_cause(exc)}") from None
        try:
            body = self._read_body(response, deadline, seconds)
        except BaseException:
            response.close()  # also drops the connection, which may hold half a body
            raise
        response.release_conn()  # back to the pool, kept alive
        status = response.status
        if not 200 <= status < 300:
            hint = _STATUS_HINTS.get(status)
            reason = f"HTTP {status} {response.reason or ''}".rstrip() + f", body {_snippet(body)}"
            raise self._error(FetchStatusError, reason + (f"; {hint}" if hint else ""), status)
        try:
            payload = json.loads(body)
        except ValueError:
            ctype = response.headers.get("Content-Type", "no Content-Type")
            raise self._error(
                FetchNotJSON, f"HTTP {status} with {ctype} is not JSON: {_snippet(body)}; is the URL the bridge's /colibri/stats?"
            ) from None
        if not isinstance(payload, dict):
            raise self._error(FetchNotObject, f"HTTP {status} JSON is {type(payload).__name__}, expected an object")
        return payload

    def _read_body(self, response: Any, deadline: float, seconds: float) -> bytes:
        options = self.options
        length = response.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > options.max_bytes:
            raise self._error(FetchTooLarge, f"body of {int(length)} bytes is over the {options.max_bytes}-byte cap")
        sock = _response_socket(response)
        token = self._watchdog.arm(deadline, sock) if sock is not None else None
        chunks: List[bytes] = []
        size = 0
        try:
            while True:
                chunk = response.read(CHUNK_BYTES, decode_content=True)
                if not chunk:
                    break
                size += len(chunk)
                if size > options.max_bytes:
                    raise self._error(FetchTooLarge, f"body is over the {options.max_bytes}-byte cap")
                chunks.append(chunk)
                if time.monotonic() >= deadline:
                    break
        except FetchError:
            raise
        except Exception as exc:
            if time.monotonic() >= deadline:
                raise self._error(FetchTimeout, f"body not complete within {seconds:g} s (timeout)") from None
            raise self._error(FetchConnectionError, f"connection broke while reading: {_root_cause(exc)}") from None
        finally:
            if token is not None:
                self._watchdog.disarm(token)
        if time.monotonic() >= deadline:
            raise self._error(FetchTimeout, f"body not complete within {seconds:g} s (timeout)")
        return b"".join(chunks)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> "BridgeClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-f]+>: ")


def _root_cause(exc: BaseException) -> str:
    """The innermost reason of a requests/urllib3 error, e.g. "[Errno 111] Connection
    refused", without the wrappers' object reprs."""
    seen = 0
    while seen < 8:
        seen += 1
        reason = getattr(exc, "reason", None)
        if isinstance(reason, BaseException):
            exc = reason
        elif exc.args and isinstance(exc.args[0], BaseException):
            exc = exc.args[0]
        elif exc.__cause__ is not None:
            exc = exc.__cause__
        else:
            break
    text = _OBJECT_REPR.sub("", str(exc)) or type(exc).__name__
    lines = text.splitlines()
    return lines[0][:300] if lines else type(exc).__name__
