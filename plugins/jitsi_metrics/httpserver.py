"""The exporter's HTTP/1.1 server: one selector thread for every connection, a bounded
pool of threads for the application. Standard library only.

Why not ``http.server``: it spends a thread and a file descriptor on every connection,
with no cap and no timeout, so a few hundred idle clients exhaust the process; and it
reads a GET's body as the next request. Here:

- One thread (the loop) owns the listening socket and every connection. It accepts,
  reads, frames requests (``httpwire``), enforces the limits and timeouts, and finishes
  answers that did not fit the socket buffer. An idle or slow client costs a socket and
  a small buffer, never a thread.
- The application runs in at most ``Limits.workers`` threads, started as needed, since
  a scrape may wait seconds for a bridge. Requests beyond that queue in arrival order
  (at most one per connection, so the queue is bounded by the connection cap). A worker
  sends the answer itself, in one write with Nagle off, and hands the connection back
  to the loop. Paths in ``quick_paths`` (the application promises they never block,
  like /health) are answered on the loop itself: they answer even while every worker
  waits on a bridge, and they skip the hand-over.
- At the connection cap a new connection closes the one that has waited longest for a
  request (idle keep-alive, slow headers, closing): idle clients cannot lock Prometheus
  out. Only when every connection is busy is the newcomer answered 503 and closed.
- Timeouts: a request's head (and any body) must arrive within ``header_timeout`` of its
  first byte (or of the accept), however slowly the bytes trickle; a keep-alive connection
  may wait ``idle_timeout`` for its next request; a client has ``send_timeout`` to take
  an answer.

``request_stop()`` only sets a flag and writes one byte, so a signal handler may call it;
``stop(grace)`` also waits. Example::

    server = HttpServer(lambda req: Response(200, "text/plain", b"ok"), "127.0.0.1", 0).start()
    ...
    server.stop(2.0)
"""
from __future__ import annotations

import errno
import selectors
import socket
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from queue import SimpleQueue
from typing import Callable, Collection, Deque, List, Optional, Set, Tuple, Union

from .httpwire import Head, Refusal, Request, Response, encode_response, http_date, parse_head

App = Callable[[Request], Response]
Log = Callable[[str, str], None]  # (level, message)

TEXT = "text/plain; charset=utf-8"
_INF = float("inf")
_READING, _BUSY, _SENDING, _LINGERING, _CLOSED = range(5)
_RECV = 65536
# Bytes a closing client may still send us before we stop waiting for its FIN.
_LINGER_BYTES = 65536
_PRESSURE_LOG_EVERY = 60.0


@dataclass(frozen=True)
class Limits:
    """What one client may take from the server."""

    max_connections: int = 256  # lowered to half the open-file limit when that is smaller
    workers: int = 16  # threads running the application at once
    idle_timeout: float = 120.0  # above Prometheus' usual scrape intervals, so keep-alive holds
    header_timeout: float = 10.0  # for a request's head and body, from its first byte
    send_timeout: float = 10.0  # for the client to take an answer that did not fit the socket buffer
    max_head_bytes: int = 16384
    max_body_bytes: int = 65536  # a body this size or smaller is skipped; larger: 413
    linger: float = 2.0  # after the last answer on a closing connection, wait this long for the client's FIN


class _Conn:
    __slots__ = ("sock", "buf", "state", "events", "deadline", "since", "idle", "skip", "pending", "out", "close_after")

    def __init__(self, sock: socket.socket, now: float, deadline: float) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.state = _READING
        self.events = 0  # what the selector watches for
        self.deadline = deadline
        self.since = now  # when it began waiting for the client: who goes first at the cap
        self.idle = False  # between requests on a kept-alive connection
        self.skip = 0  # body bytes still to skip (or, lingering, bytes drained)
        self.pending: Optional[Head] = None  # the request whose body is being skipped
        self.out: Union[bytes, memoryview] = b""
        self.close_after = False


class _Workers:
    """At most ``limit`` threads running jobs from one queue; threads start when needed."""

    def __init__(self, limit: int, run: Callable[[Tuple[_Conn, Head, bool], Callable[[], None]], None]) -> None:
        self._jobs: "SimpleQueue[Optional[Tuple[_Conn, Head, bool]]]" = SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._threads: List[threading.Thread] = []
        self._limit = max(1, limit)
        self._run = run

    def submit(self, job: Tuple[_Conn, Head, bool]) -> None:
        self._jobs.put(job)
        if self._idle.acquire(blocking=False):
            return  # a waiting thread takes it
        if len(self._threads) < self._limit:
            thread = threading.Thread(target=self._main, name=f"jitsi-http-{len(self._threads) + 1}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _main(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            self._one(job)

    def _one(self, job: Tuple[_Conn, Head, bool]) -> None:
        # The job calls ready() once its answer is made, before it sends it: a client that
        # sends its next request at once then finds this thread counted idle, instead of
        # making submit() start another thread.
        done = False

        def ready() -> None:
            nonlocal done
            if not done:
                done = True
                self._idle.release()

        try:
            self._run(job, ready)
        finally:
            ready()

    def shutdown(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)


def _stderr_log(level: str, message: str) -> None:
    sys.stderr.write(f"{level}: {message}\n")


def _open_file_limit() -> Optional[int]:
    try:
        import resource
    except ImportError:  # not on this platform
        return None
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return None if soft == resource.RLIM_INFINITY else int(soft)


def listen(host: str, port: int) -> socket.socket:
    """A listening socket; ``host`` "" means every interface, IPv6 included where there is IPv6."""
    if host == "":
        host = "::" if socket.has_dualstack_ipv6() else "0.0.0.0"
    if ":" in host:
        # An IPv6 address answers IPv4 clients too where it can, as ":PORT" always did.
        return socket.create_server((host, port), family=socket.AF_INET6, dualstack_ipv6=socket.has_dualstack_ipv6())
    return socket.create_server((host, port), family=socket.AF_INET)


class HttpServer:
    """Serves ``app`` on ``host``:``port`` (bound at once, so a busy port raises OSError here)."""

    def __init__(self, app: App, host: str, port: int, limits: Limits = Limits(),
                 quick_paths: Collection[str] = (), log: Log = _stderr_log,
                 server_name: str = "jitsi-meet-metrics") -> None:
        self.app = app
        self.limits = limits
        self.quick_paths = frozenset(quick_paths)
        self.log = log
        self.server_name = server_name
        self.max_connections = max(1, limits.max_connections)
        files = _open_file_limit()
        if files is not None and files // 2 < self.max_connections:
            self.max_connections = max(1, files // 2)
            log("warn", f"Connection cap lowered from {limits.max_connections} to {self.max_connections}, half the"
                        f" open-file limit ({files}); raise that limit (ulimit -n, LimitNOFILE=) to allow more")
        self._listener = listen(host, port)
        self._listener.setblocking(False)
        self._address = self._listener.getsockname()[:2]
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ, None)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._conns: Set[_Conn] = set()
        self._done: Deque[Tuple[_Conn, Optional[bytes], bool]] = deque()
        self._done_lock = threading.Lock()
        self._loop_gone = False
        self._workers = _Workers(limits.workers, self._work)
        self._next_check = _INF
        self._accept_paused_until = 0.0
        self._stopping = False
        self._stop_deadline = _INF
        self._date = (0, "")
        # At the cap since the last log line: waiting connections closed, newcomers turned
        # away, accepts that found no file descriptor.
        self._pressure = [0, 0, 0]
        self._pressure_logged = -_INF
        self._thread: Optional[threading.Thread] = None
        self._running = False
        self._closed = False

    @property
    def address(self) -> Tuple[str, int]:
        """The address served (also after stopping)."""
        host, port = self._address
        return str(host), int(port)

    @property
    def connections(self) -> int:
        """Connections open now (any state)."""
        return len(self._conns)

    # --- life cycle ------------------------------------------------------------------

    def start(self, name: str = "jitsi-http") -> "HttpServer":
        """Serve in a daemon thread."""
        self._running = True
        self._thread = threading.Thread(target=self.run, name=name, daemon=True)
        self._thread.start()
        return self

    def request_stop(self, grace: float = 2.0) -> None:
        """Stop accepting and close idle connections; answers in progress get ``grace``
        seconds. Sets a flag and writes one byte: safe in a signal handler."""
        self._stop_deadline = time.monotonic() + grace
        self._stopping = True
        self._wake()

    def stop(self, grace: float = 2.0) -> None:
        """``request_stop(grace)``, then wait for the server to finish (about ``grace`` s at most)."""
        self.request_stop(grace)
        if not self._running:
            self._close_all()  # never started: just let go of the port
        elif self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(grace + 1.0)

    def run(self) -> None:
        """The loop, in the calling thread, until stopped."""
        self._running = True
        try:
            self._loop()
        finally:
            self._close_all()

    # --- the loop --------------------------------------------------------------------

    def _loop(self) -> None:
        select, stop_begun = self._selector.select, False
        while True:
            now = time.monotonic()
            wait_until = min(self._next_check, self._stop_deadline) if self._stopping else self._next_check
            for key, _ in select(None if wait_until == _INF else max(0.0, wait_until - now)):
                conn = key.data
                if conn is not None:
                    if conn.state == _CLOSED:
                        continue  # closed earlier in this round (evicted at the cap)
                    if conn.state == _SENDING:
                        self._on_writable(conn)
                    else:
                        self._on_readable(conn)
                elif key.fileobj is self._listener:
                    self._accept()
                else:
                    self._take_back()
            now = time.monotonic()
            if now >= self._next_check:
                self._sweep(now)
            if self._stopping:
                if not stop_begun:
                    stop_begun = True
                    self._begin_stop()
                if not self._conns or now >= self._stop_deadline:
                    return

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except OSError:
            pass  # full (a wake-up is pending anyway) or closed (the loop is gone)

    def _note(self, deadline: float) -> None:
        if deadline < self._next_check:
            self._next_check = deadline

    def _watch(self, conn: _Conn, events: int) -> None:
        if events == conn.events:
            return
        if not conn.events:
            self._selector.register(conn.sock, events, conn)
        elif not events:
            self._selector.unregister(conn.sock)
        else:
            self._selector.modify(conn.sock, events, conn)
        conn.events = events

    def _close(self, conn: _Conn) -> None:
        if conn.state == _CLOSED:
            return
        if conn.events:
            self._selector.unregister(conn.sock)
            conn.events = 0
        conn.sock.close()
        conn.state = _CLOSED
        self._conns.discard(conn)

    # --- accepting and the cap -----------------------------------------------------

    def _accept(self) -> None:
        evicted = False
        for _ in range(64):  # a burst, then let the other connections have their turn
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno not in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    continue  # that client gave up (ECONNABORTED and the like)
                self._under_pressure(2)
                if not evicted and self._evict():
                    evicted = True  # one descriptor freed; try once more
                    continue
                self._pause_accepting()
                return
            if len(self._conns) >= self.max_connections and not self._evict():
                self._turn_away(sock)
                continue
            now = time.monotonic()
            sock.setblocking(False)
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass  # not TCP
            conn = _Conn(sock, now, now + self.limits.header_timeout)
            self._note(conn.deadline)
            self._conns.add(conn)
            self._watch(conn, selectors.EVENT_READ)

    def _evict(self) -> bool:
        """Close the connection that has waited longest for its client, if any waits."""
        waiting = [c for c in self._conns if c.state in (_READING, _LINGERING)]
        if not waiting:
            return False
        self._close(min(waiting, key=lambda c: (c.state != _LINGERING, c.since)))
        self._under_pressure(0)
        return True

    def _turn_away(self, sock: socket.socket) -> None:
        body = b"Too many connections in progress; try again\n"
        data = encode_response(Response(503, TEXT, body), False, "close", self._http_date(), self.server_name)
        try:
            sock.setblocking(False)
            sock.send(data)
        except OSError:
            pass
        sock.close()
        self._under_pressure(1)

    def _under_pressure(self, which: int) -> None:
        """Count a connection lost to the limits; say so at most once a minute."""
        self._pressure[which] += 1
        now = time.monotonic()
        if now - self._pressure_logged >= _PRESSURE_LOG_EVERY:
            closed, refused, no_fd = self._pressure
            self._pressure, self._pressure_logged = [0, 0, 0], now
            self.log("warn", f"Connection cap of {self.max_connections} reached:"
                             f" closed {closed} waiting connection(s), turned {refused} away, {no_fd} accept(s)"
                             " found no free file descriptor; if these clients are legitimate, raise"
                             " --max-connections or the open-file limit")

    def _pause_accepting(self) -> None:
        # With no descriptor left, the listening socket stays readable: stop watching it
        # for a moment rather than spin.
        self._selector.unregister(self._listener)
        self._accept_paused_until = time.monotonic() + 0.1
        self._note(self._accept_paused_until)

    # --- reading and framing -------------------------------------------------------

    def _on_readable(self, conn: _Conn) -> None:
        try:
            data = conn.sock.recv(_RECV)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(conn)
            return
        if not data:
            self._close(conn)
            return
        if conn.state == _LINGERING:
            conn.skip += len(data)
            if conn.skip > _LINGER_BYTES:
                self._close(conn)
            return
        if conn.idle:  # the first byte of the next request: its head has header_timeout from now
            conn.idle = False
            conn.deadline = time.monotonic() + self.limits.header_timeout
            self._note(conn.deadline)
        conn.buf += data
        self._advance(conn)

    def _advance(self, conn: _Conn) -> None:
        """Frame what ``conn.buf`` holds: skip a body, dispatch a request, or wait for more."""
        buf = conn.buf
        while True:
            if conn.skip:
                n = min(conn.skip, len(buf))
                del buf[:n]
                conn.skip -= n
                if conn.skip:
                    self._watch(conn, selectors.EVENT_READ)
                    return
                head, conn.pending = conn.pending, None
                assert head is not None
                self._dispatch(conn, head)
                return
            while buf[:2] == b"\r\n":
                del buf[:2]  # RFC 9112: a server should ignore empty lines before a request
            parsed = parse_head(buf, self.limits.max_head_bytes, self.limits.max_body_bytes) if buf else None
            if parsed is None:
                self._watch(conn, selectors.EVENT_READ)
                return
            if isinstance(parsed, Refusal):
                self._refuse(conn, parsed)
                return
            del buf[:parsed.size]
            if not parsed.body_length:
                self._dispatch(conn, parsed)
                return
            conn.skip, conn.pending = parsed.body_length, parsed
            if parsed.expect_continue and not self._send_all(conn, b"HTTP/1.1 100 Continue\r\n\r\n"):
                return

    def _refuse(self, conn: _Conn, refusal: Refusal) -> None:
        body = f"Bad request: {refusal.reason}\n".encode()
        self._send_then(conn, encode_response(Response(refusal.status, TEXT, body), False, "close",
                                              self._http_date(), self.server_name), True)

    def _send_all(self, conn: _Conn, data: bytes) -> bool:
        """A short interim write; a client that cannot take it is closed."""
        try:
            if conn.sock.send(data) == len(data):
                return True
        except OSError:
            pass
        self._close(conn)
        return False

    # --- running the application ---------------------------------------------------

    def _dispatch(self, conn: _Conn, head: Head) -> None:
        close = not head.keep_alive or self._stopping
        conn.idle = False
        if head.request.path in self.quick_paths:
            conn.state = _BUSY
            data, close = self._answer(head, close)
            self._send_then(conn, data, close)
            return
        conn.state = _BUSY
        conn.deadline = _INF
        self._watch(conn, 0)  # the worker owns the socket until it hands it back
        self._workers.submit((conn, head, close))

    def _answer(self, head: Head, close: bool) -> Tuple[bytes, bool]:
        request = head.request
        try:
            response = self.app(request)
            close = close or self._stopping  # a stop that came while the app worked
            connection = "close" if close else ("keep-alive" if "keep-alive" in request.headers.get(
                "connection", "").lower() else None)
            data = encode_response(response, request.method == "HEAD", connection, self._http_date(),
                                   self.server_name)
        except Exception as exc:  # a bug in the application: answer 500, keep serving
            self.log("error", f"{request.method} {request.path[:100]!r} failed: {exc!r}"[:300]
                     + "; answered HTTP 500")
            data, close = encode_response(Response(500, TEXT, b"Internal error; see the exporter's log\n"),
                                          request.method == "HEAD", "close", self._http_date(),
                                          self.server_name), True
        return data, close

    def _work(self, job: Tuple[_Conn, Head, bool], ready: Callable[[], None]) -> None:
        """In a worker thread: answer, send what the socket takes, hand the rest back."""
        conn, head, close = job
        data, close = self._answer(head, close)
        ready()
        try:
            sent = conn.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            sent = -1  # the client went away
        rest = None if sent < 0 else data[sent:]
        with self._done_lock:
            if not self._loop_gone:
                self._done.append((conn, rest, close))
                self._wake()
                return
        conn.sock.close()  # the loop has ended; nobody else will

    def _take_back(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        while self._done:
            conn, rest, close = self._done.popleft()
            if rest is None:
                self._close(conn)
            else:
                self._sent(conn, rest, close)

    # --- writing -------------------------------------------------------------------

    def _send_then(self, conn: _Conn, data: bytes, close: bool) -> None:
        """On the loop: send an answer, then keep the connection or close it."""
        try:
            sent = conn.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self._close(conn)
            return
        self._sent(conn, data[sent:], close)

    def _sent(self, conn: _Conn, rest: bytes, close: bool) -> None:
        if rest:
            conn.state, conn.out, conn.close_after = _SENDING, memoryview(rest), close
            conn.deadline = time.monotonic() + self.limits.send_timeout
            self._note(conn.deadline)
            self._watch(conn, selectors.EVENT_WRITE)
        else:
            self._answered(conn, close)

    def _on_writable(self, conn: _Conn) -> None:
        try:
            sent = conn.sock.send(conn.out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(conn)
            return
        conn.out = conn.out[sent:]
        if not conn.out:
            conn.out = b""
            self._answered(conn, conn.close_after)

    def _answered(self, conn: _Conn, close: bool) -> None:
        """The answer is out: wait for the next request, or close."""
        now = time.monotonic()
        if self._stopping:
            self._close(conn)
        elif close:
            self._linger(conn, now)
        else:
            conn.state, conn.since = _READING, now
            conn.idle = not conn.buf
            conn.deadline = now + (self.limits.idle_timeout if conn.idle else self.limits.header_timeout)
            self._note(conn.deadline)
            self._advance(conn)  # a pipelined request may be waiting in the buffer

    def _linger(self, conn: _Conn, now: float) -> None:
        # Closing while the client still sends would reset the connection and could
        # destroy our answer before it is read; so send FIN, and wait for the client's.
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._close(conn)
            return
        conn.state, conn.since, conn.skip = _LINGERING, now, 0
        conn.buf = bytearray()
        conn.deadline = now + self.limits.linger
        self._note(conn.deadline)
        self._watch(conn, selectors.EVENT_READ)

    # --- time ----------------------------------------------------------------------

    def _http_date(self) -> str:
        now = int(time.time())
        second, text = self._date
        if second != now:
            text = http_date(now)
            self._date = (now, text)
        return text

    def _sweep(self, now: float) -> None:
        """Close every connection past its deadline; find the next deadline."""
        nearest = _INF
        for conn in list(self._conns):
            if conn.deadline <= now:
                self._expire(conn)
            elif conn.deadline < nearest:
                nearest = conn.deadline
        if self._accept_paused_until:
            if now >= self._accept_paused_until:
                self._accept_paused_until = 0.0
                if not self._stopping:
                    self._selector.register(self._listener, selectors.EVENT_READ, None)
            else:
                nearest = min(nearest, self._accept_paused_until)
        self._next_check = nearest

    def _expire(self, conn: _Conn) -> None:
        if conn.state == _READING and (conn.buf or conn.skip):
            # Say why, best effort, to a client that started a request and did not finish it.
            data = encode_response(Response(408, TEXT, b"Request not received in time\n"), False, "close",
                                   self._http_date(), self.server_name)
            try:
                conn.sock.send(data)
            except OSError:
                pass
        self._close(conn)

    # --- stopping ------------------------------------------------------------------

    def _begin_stop(self) -> None:
        if not self._accept_paused_until:
            self._selector.unregister(self._listener)
        self._listener.close()
        for conn in list(self._conns):
            if conn.state in (_READING, _LINGERING):
                self._close(conn)

    def _close_all(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._done_lock:
            self._loop_gone = True
            done = list(self._done)
            self._done.clear()
        for conn, _, _ in done:
            self._close(conn)
        for conn in list(self._conns):
            if conn.state == _BUSY:
                # A worker still owns it and will close it; tell the client now.
                try:
                    conn.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                self._conns.discard(conn)
            else:
                self._close(conn)
        self._workers.shutdown()
        self._listener.close()
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()


__all__ = ["App", "HttpServer", "Limits", "Request", "Response", "listen"]
