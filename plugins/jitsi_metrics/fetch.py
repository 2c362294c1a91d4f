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

import base64
import http.client
import json
import select
import socket
import ssl
import time
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import quote, urlsplit

from . import __version__
from .config import BridgeOptions
from .detect import Answer
from .logtext import loggable
from .watchdog import WATCHDOG

JSON_ACCEPT = "application/json"
USER_AGENT = f"jitsi-meet-metrics/{__version__}"

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




# What a request on a kept-alive connection meets when the bridge closed it meanwhile.
_CLOSED_WHILE_IDLE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


def _snippet(body: bytes) -> str:
    return repr(loggable(body[:200].decode("utf-8", "replace").strip(), 60))


def basic_credentials(username: str, password: str) -> str:
    """The value of a Basic Authorization header: Latin-1 (what Jetty decodes by default,
    and what requests sent before), UTF-8 for names or passwords outside Latin-1."""
    joined = f"{username}:{password}"
    try:
        raw = joined.encode("latin-1")
    except UnicodeEncodeError:
        raw = joined.encode("utf-8")
    return "Basic " + base64.b64encode(raw).decode("ascii")


def request_target(url: str) -> str:
    """The path and query of ``url`` as sent on the request line, unsafe characters
    percent-encoded (a space or a control character never reaches the wire raw)."""
    parts = urlsplit(url)
    target = quote(parts.path or "/", safe=_SAFE)
    return target + ("?" + quote(parts.query, safe=_SAFE) if parts.query else "")


_SAFE = "/%:@!$&'()*+,;=-._~"


def tls_context(options: BridgeOptions) -> ssl.SSLContext:
    """The TLS settings of an https:// bridge: the system's CA store (or ``ca_file``) and
    a hostname check, or no verification at all when the user turned it off."""
    context = ssl.create_default_context(cafile=options.ca_file)
    if not options.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _dropped(sock: Optional[socket.socket]) -> bool:
    """Whether an idle kept-alive connection was closed by the bridge (or holds bytes
    nobody asked for): either way it cannot carry the next request."""
    if sock is None:
        return True
    try:  # poll, not select: select() cannot take an fd above 1023
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


class BridgeClient:
    """Polls one bridge over one kept-alive connection (the standard library's http.client).

    The request's target and headers are built once. http.client parses the answer (the
    same parser urllib3 and requests use underneath); this class adds one total deadline
    per exchange (WATCHDOG), the size cap, the refusal of encoded bodies and one line per
    failure. Without requests' and urllib3's layers a poll costs about half the CPU and
    the process about 10 MB less (docs/performance.md).
    """

    def __init__(self, options: BridgeOptions, accept: str = JSON_ACCEPT) -> None:
        self.options = options
        parts = urlsplit(options.url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._https else 80)
        self._target = request_target(options.url)
        # identity: a compressed body could inflate far past the size cap before we see
        # it, and /colibri/stats is small. ``accept``: JVB's /metrics answers HTTP 500 to
        # a request without a text Accept.
        self._headers = {"Accept": accept, "Accept-Encoding": "identity", "User-Agent": USER_AGENT}
        if options.token:
            self._headers["Authorization"] = f"Bearer {options.token}"
        elif options.username:
            self._headers["Authorization"] = basic_credentials(options.username, options.password or "")
        self._tls = tls_context(options) if self._https else None
        self._conn: Optional[http.client.HTTPConnection] = None
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

    def _exchange(self, timeout: Optional[float]) -> Tuple[http.client.HTTPResponse, bytes]:
        seconds = self.options.timeout if timeout is None else timeout
        if seconds <= 0:  # the caller's budget is spent
            raise self._error(FetchTimeout, "no time was left for this poll (timeout)")
        deadline = time.monotonic() + seconds
        tokens: List[int] = []
        response: Optional[http.client.HTTPResponse] = None
        try:
            while response is None:
                conn, reused = self._connection(deadline, seconds)
                sock = conn.sock
                if sock is None:  # close() ran on another thread meanwhile
                    raise self._error(FetchConnectionError, "closed: this front end is stopping")
                # From here the watchdog shuts the socket down at the deadline, so a status
                # line, headers or body that trickle in forever end on time too.
                tokens.append(WATCHDOG.arm(deadline, sock))
                response = self._send(conn, deadline, seconds, reused)
            body = self._read_body(response, deadline, seconds)
        except BaseException:
            # Both may hold half an answer. A response to be closed after its body (the
            # bridge said Connection: close) owns the socket alone: closed here too.
            if response is not None:
                response.close()
            self._drop()
            raise
        finally:
            for token in tokens:
                WATCHDOG.disarm(token)
        if response.will_close:
            self._drop()
        return response, body

    def _connection(self, deadline: float, seconds: float) -> Tuple[http.client.HTTPConnection, bool]:
        """(the connection for this request, whether it is a kept-alive one): a new one when
        there is none or the bridge has closed the one kept."""
        if self._closed:
            raise self._error(FetchConnectionError, "closed: this front end is stopping")
        kept = self._conn  # once: close() on another thread may set it to None meanwhile
        if kept is not None and kept.sock is not None and not _dropped(kept.sock):
            try:
                kept.sock.settimeout(seconds)
                return kept, True
            except (AttributeError, OSError):  # closed meanwhile
                pass
        self._drop()
        if self._tls is not None:
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                self._host, self._port, timeout=seconds, context=self._tls)
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=seconds)
        conn.auto_open = 0  # a closed connection never reopens behind our back (close() on another thread)
        self._conn = conn
        try:
            conn.connect()
        except OSError as exc:
            if isinstance(exc, socket.timeout) or time.monotonic() >= deadline:
                raise self._error(FetchTimeout, f"no connection within {seconds:g} s (timeout)") from None
            raise self._error(FetchConnectionError, f"cannot connect: {_root_cause(exc)}") from None
        if self._closed:  # close() ran on another thread meanwhile and may have missed this socket
            conn.close()
            raise self._error(FetchConnectionError, "closed: this front end is stopping")
        return conn, False

    def _send(self, conn: http.client.HTTPConnection, deadline: float, seconds: float,
              reused: bool) -> Optional[http.client.HTTPResponse]:
        """The answer's status and headers; None when a kept-alive connection turned out to
        be closed by the bridge before it answered (the caller asks again on a new one)."""
        try:
            conn.request("GET", self._target, headers=self._headers)
            return conn.getresponse()
        except (http.client.HTTPException, OSError) as exc:
            if self._closed:  # close() on another thread closed the socket under us
                raise self._error(FetchConnectionError, "closed: this front end is stopping") from None
            if isinstance(exc, socket.timeout) or time.monotonic() >= deadline:
                raise self._error(FetchTimeout, f"no complete headers within {seconds:g} s (timeout)") from None
            if reused and isinstance(exc, _CLOSED_WHILE_IDLE):
                self._drop()  # the bridge closed it as we sent: a race with its idle timeout
                return None
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
        lengths = response.headers.get_all("Content-Length") or []
        if len({value.strip() for value in lengths}) > 1:
            # http.client would go by the first: a body framed one way or another, or the
            # next answer's bytes read as this one's (what urllib3 refused).
            raise self._error(FetchConnectionError, "Content-Length headers disagree: "
                              f"{loggable(', '.join(lengths), 60)}")
        length = response.headers.get("Content-Length")
        # isascii: "²" is a digit to str.isdigit but not to int()
        if length and length.isascii() and length.isdigit() and int(length) > options.max_bytes:
            raise self._error(FetchTooLarge, f"body of {int(length)} bytes is over the {options.max_bytes}-byte cap")
        chunks: List[bytes] = []
        size = 0
        try:
            while True:
                chunk = response.read(CHUNK_BYTES)
                if not chunk:
                    if response.length:  # http.client's read() ends quietly when the bridge
                        # closes short of the Content-Length; what came may even parse
                        raise http.client.IncompleteRead(b"".join(chunks), response.length)
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

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._drop()
            WATCHDOG.unregister()

    def __enter__(self) -> "BridgeClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _root_cause(exc: BaseException) -> str:
    """The reason of a socket, TLS or HTTP error, e.g. "[Errno 111] Connection refused",
    on one escaped line."""
    return loggable(str(exc)) or type(exc).__name__
