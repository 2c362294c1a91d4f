"""One HTTP poll of one bridge: a payload dict, or a FetchError.

Errors (``cause`` is a short stable word for health tracking)::

    FetchError              anything that cost this poll; str() is one line for a log
    ├── FetchTimeout        no complete answer within the timeout: connect, headers and body
    ├── FetchConnectionError refused, reset, DNS, TLS
    ├── FetchStatusError    HTTP status outside 2xx ("HTTP 404", "HTTP 503": each its own cause)
    ├── FetchTooLarge       body over the size cap
    ├── FetchEncoded        a Content-Encoding we did not ask for (we ask for identity)
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
from .detect import Answer
from .logtext import loggable

JSON_ACCEPT = "application/json"

CHUNK_BYTES = 65536

_STATUS_HINTS = {
    404: "is the REST API enabled? (JVB: videobridge.apis.rest.enabled = true in jvb.conf;"
         " docker-jitsi-meet: JVB_ENABLE_APIS=rest)",
    503: "JVB 1.x answers 503 with statistics off (org.jitsi.videobridge.ENABLE_STATISTICS=true)",
    401: "check the username and password or token",
    403: "check the username and password or token",
}


class FetchError(Exception):
    cause = "failed"

    def __init__(self, bridge: str, url: str, reason: str) -> None:
        super().__init__(f'Bridge "{loggable(bridge)}" ({loggable(url)}): {reason}')
        self.bridge = bridge
        self.url = url
        self.reason = reason


class FetchTimeout(FetchError):
    cause = "timeout"


class FetchConnectionError(FetchError):
    cause = "connection"


class FetchStatusError(FetchError):
    def __init__(self, bridge: str, url: str, reason: str, status: int) -> None:
        super().__init__(bridge, url, reason)
        self.status = status
        self.cause = f"HTTP {status}"  # 404 then 503 is news: a different thing to fix


class FetchTooLarge(FetchError):
    cause = "too large"


class FetchEncoded(FetchError):
    cause = "encoded"


class FetchNotJSON(FetchError):
    cause = "not JSON"


class FetchNotObject(FetchError):
    cause = "not an object"


class _Watchdog:
    """One thread for every client of the process: shuts a socket down when its deadline passes.

    requests' timeout applies to each socket read, so a bridge that trickles its headers
    or body a byte at a time (or sends "100 Continue" forever) would never time out;
    shutting the socket down from this thread makes the blocked read return at the
    deadline. Waking the thread at every poll would cost more than the poll's mapping,
    so while idle it sleeps for one timeout span: a poll armed meanwhile has a later
    deadline than that wake-up and needs no notification. The thread starts with the
    first armed poll and ends once the last client has closed.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._armed: Dict[int, Tuple[float, socket.socket]] = {}
        self._ids = itertools.count()
        self._thread: Optional[threading.Thread] = None
        self._clients = 0
        self._wake_at = math.inf
        self._span = 1.0

    def register(self) -> None:
        with self._cond:
            self._clients += 1

    def unregister(self) -> None:
        with self._cond:
            self._clients = max(self._clients - 1, 0)
            if not self._clients:
                self._cond.notify()

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
            while self._clients or self._armed:
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
            self._thread = None
            self._wake_at = math.inf


WATCHDOG = _Watchdog()


class _Deadline(threading.local):
    """The deadline of the fetch running in this thread, and its watchdog token."""

    deadline = math.inf
    token: Optional[int] = None

    def arm(self, sock: Any) -> None:
        if self.token is None and isinstance(sock, socket.socket) and self.deadline < math.inf:
            self.token = WATCHDOG.arm(self.deadline, sock)

    def disarm(self) -> None:
        if self.token is not None:
            WATCHDOG.disarm(self.token)
        self.token = None
        self.deadline = math.inf


def connection_pool(session: requests.Session, url: str, tls: Dict[str, Any], deadline: _Deadline) -> Any:
    """The urllib3 connection pool that polls ``url``, its connections watched by ``deadline``.

    requests' own pool is used when the session's adapter has one (its TLS defaults and
    keep-alive); an adapter without a urllib3 pool manager (a custom one mounted on the
    session) gets a plain ``urllib3.PoolManager`` instead. Either way the pool's
    connections arm the watchdog as soon as the request is sent, so the deadline covers
    the status line and headers too, not only the body.
    """
    manager = getattr(session.get_adapter(url), "poolmanager", None)
    if not isinstance(manager, urllib3.PoolManager):
        manager = urllib3.PoolManager()
    pool = manager.connection_from_url(url, pool_kwargs=tls)
    base = pool.ConnectionCls

    class WatchedConnection(base):  # type: ignore[valid-type,misc]
        def getresponse(self, *args: Any, **kwargs: Any) -> Any:
            deadline.arm(getattr(self, "sock", None))
            return super().getresponse(*args, **kwargs)

    pool.ConnectionCls = WatchedConnection
    return pool


def _snippet(body: bytes) -> str:
    return repr(loggable(body[:200].decode("utf-8", "replace").strip(), 60))


class BridgeClient:
    """Polls one bridge over one kept-alive connection.

    requests builds the request once (headers, auth) and owns the connection pool; each
    poll then goes straight to that pool. Session.get would rebuild the request and read
    the environment again, and Session.send / HTTPAdapter.send would run cookie,
    redirect and response-wrapping code this endpoint never needs: together more than
    half of a poll's cost (docs/performance.md).
    """

    def __init__(self, options: BridgeOptions,
                 session_factory: Callable[[], requests.Session] = requests.Session,
                 accept: str = JSON_ACCEPT) -> None:
        self.options = options
        self.session = session_factory()
        self.session.trust_env = False
        # identity: a compressed body could inflate far past the size cap before we see
        # it (urllib3 1.26 decodes "gzip, gzip" in one go), and /colibri/stats is small.
        # ``accept``: JVB's /metrics answers HTTP 500 to a request without a text Accept.
        headers = {"Accept": accept, "Accept-Encoding": "identity"}
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
        self._deadline = _Deadline()
        self._pool = connection_pool(self.session, prepared.url or options.url, tls, self._deadline)
        self._closed = False
        WATCHDOG.register()

    def _error(self, kind: Callable[..., FetchError], reason: str, *extra: Any) -> FetchError:
        return kind(self.options.name, self.options.url, reason, *extra)

    def fetch(self, timeout: Optional[float] = None) -> Dict[str, Any]:
        """The bridge's payload, or a FetchError that says what went wrong.

        ``timeout`` overrides the configured one for this poll (an exporter cuts it to
        fit Prometheus' scrape timeout); it bounds connect, headers and body together.
        """
        return self._payload(*self._exchange(timeout))

    def fetch_answer(self, timeout: Optional[float] = None) -> Tuple[Answer, str]:
        """(the answer whatever its status, the HTTP reason phrase), for sources other
        than /colibri/stats; FetchError only when no complete answer came."""
        response, body = self._exchange(timeout)
        return Answer(response.status, response.headers.get("Content-Type", ""), body), response.reason or ""

    def status_error(self, answer: Answer, reason: str = "") -> FetchStatusError:
        """The error of a non-2xx answer, worded as for /colibri/stats."""
        hint = _STATUS_HINTS.get(answer.status)
        text = f"HTTP {answer.status} {loggable(reason, 60)}".rstrip() + f", body {_snippet(answer.body)}"
        return FetchStatusError(self.options.name, self.options.url, text + (f"; {hint}" if hint else ""),
                                answer.status)

    def _exchange(self, timeout: Optional[float]) -> Tuple[Any, bytes]:
        seconds = self.options.timeout if timeout is None else timeout
        if seconds <= 0:  # the caller's budget is spent; urllib3 would refuse a timeout of 0
            raise self._error(FetchTimeout, "no time was left for this poll (timeout)")
        deadline = time.monotonic() + seconds
        self._deadline.deadline = deadline
        try:
            response = self._open(deadline, seconds)
            try:
                body = self._read_body(response, deadline, seconds)
            except BaseException:
                response.close()  # also drops the connection, which may hold half a body
                raise
        finally:
            self._deadline.disarm()
        response.release_conn()  # back to the pool, kept alive
        return response, body

    def _open(self, deadline: float, seconds: float) -> Any:
        try:
            return self._pool.urlopen(
                "GET", self._path, headers=self._headers, preload_content=False, decode_content=False,
                retries=False, redirect=False, timeout=urllib3.Timeout(connect=seconds, read=seconds),
            )
        except urllib3.exceptions.NewConnectionError as exc:  # a TimeoutError subclass in urllib3
            if time.monotonic() >= deadline:
                raise self._error(FetchTimeout, f"no connection within {seconds:g} s (timeout)") from None
            raise self._error(FetchConnectionError, f"cannot connect: {_root_cause(exc)}") from None
        except urllib3.exceptions.TimeoutError:
            raise self._error(FetchTimeout, f"no answer within {seconds:g} s (timeout)") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            if time.monotonic() >= deadline:  # the watchdog cut a status line or headers that never ended
                raise self._error(FetchTimeout, f"no complete headers within {seconds:g} s (timeout)") from None
            raise self._error(FetchConnectionError, f"cannot connect: {_root_cause(exc)}") from None

    def _payload(self, response: Any, body: bytes) -> Dict[str, Any]:
        status = response.status
        if not 200 <= status < 300:
            raise self.status_error(Answer(status, "", body), response.reason or "")
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError) as exc:
            ctype = loggable(response.headers.get("Content-Type", "no Content-Type"), 80)
            why = "nests too deeply" if isinstance(exc, RecursionError) else "is not JSON"
            raise self._error(FetchNotJSON, f"HTTP {status} with {ctype} {why}: {_snippet(body)}; "
                              "is the URL the bridge's /colibri/stats?") from None
        if not isinstance(payload, dict):
            raise self._error(FetchNotObject, f"HTTP {status} JSON is {type(payload).__name__}, expected an object")
        return payload

    def _read_body(self, response: Any, deadline: float, seconds: float) -> bytes:
        options = self.options
        encoding = response.headers.get("Content-Encoding", "").strip()
        if encoding and encoding.lower() != "identity":
            raise self._error(FetchEncoded, f"body is encoded as {loggable(encoding, 60)!r} although we asked for "
                              "identity; refused, since it could inflate past the size cap")
        length = response.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > options.max_bytes:
            raise self._error(FetchTooLarge, f"body of {int(length)} bytes is over the {options.max_bytes}-byte cap")
        # Armed already when the request went out (connection_pool); a connection the pool
        # opened without calling getresponse on us is armed here.
        self._deadline.arm(getattr(getattr(response, "_connection", None), "sock", None))
        chunks: List[bytes] = []
        size = 0
        try:
            while True:
                chunk = response.read(CHUNK_BYTES, decode_content=False)
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
        if time.monotonic() >= deadline:
            raise self._error(FetchTimeout, f"body not complete within {seconds:g} s (timeout)")
        return b"".join(chunks)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            # Closed here too: the session's close leaves this pool's kept-alive
            # connection open (seen with urllib3 2.x), holding an fd and the bridge's slot.
            self._pool.close()
            self.session.close()
            WATCHDOG.unregister()

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
    return loggable(text) or type(exc).__name__
