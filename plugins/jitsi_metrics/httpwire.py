"""HTTP/1.1 on the wire, for the exporter's server: request heads in, response bytes out.

Pure functions of bytes, no sockets. A request head is read strictly (RFC 9112), because
the exporter may sit behind a proxy that shares one connection between clients: if the
two of us disagreed on where a request ends, a client could slip a second request past
the proxy (request smuggling). So anything ambiguous is refused, not guessed:

- lines end in CRLF; a bare CR or LF, a folded header line or a space before the colon: 400;
- ``Transfer-Encoding`` (with or without ``Content-Length``): 501 or 400, and the connection closes;
- ``Content-Length`` must be plain digits, the same in every copy: otherwise 400;
- a body (``Content-Length: 40`` on a GET) is framed by its length and then skipped by the
  server, never read as the next request;
- HTTP/1.1 needs exactly one ``Host``; versions other than 1.0 and 1.1 get 505;
- the request line and the whole head are bounded: 414 and 431.

Example: ``parse_head(b"GET /metrics HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n", 16384)`` gives a
``Head`` whose request is ``Request("GET", "/metrics", "", {"host": "x"})``.
"""
from __future__ import annotations

import re
import time
from http import HTTPStatus
from typing import Dict, List, Mapping, NamedTuple, Optional, Tuple, Union

# Longest request line (method, target, version) we read; a longer one gets 414.
MAX_REQUEST_LINE = 8192
MAX_HEADER_FIELDS = 100

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Printable ASCII without space: what a request target may hold (RFC 3986 characters,
# and a few more that clients send unescaped and that are harmless here).
_TARGET = re.compile(rb"[\x21-\x7e]+")
_ABSOLUTE = re.compile(rb"https?://[^/?#]*", re.IGNORECASE)
# Control characters other than tab, and DEL, have no place in a field value.
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_VERSION = re.compile(rb"HTTP/[0-9]\.[0-9]")
_DIGITS = re.compile(r"[0-9]{1,18}")


class Request(NamedTuple):
    """What the application sees. ``headers`` has lower-case names; a repeated field is
    joined with ", ". ``path`` and ``query`` are as sent (not percent-decoded)."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]


class Response(NamedTuple):
    """What the application returns; ``headers`` are extra fields beyond the server's own."""

    status: int
    content_type: str
    body: bytes
    headers: Tuple[Tuple[str, str], ...] = ()


class Head(NamedTuple):
    """A complete request head: the request, the bytes it took, the length of the body
    that follows it (to be skipped), whether the connection stays open after the answer,
    and whether the client waits for ``100 Continue`` before sending that body."""

    request: Request
    size: int
    body_length: int
    keep_alive: bool
    expect_continue: bool


class Refusal(NamedTuple):
    """A request we will not serve: the status to answer and a one-line reason. The
    connection closes after it, since where the next request starts is unknown."""

    status: int
    reason: str


def parse_head(buf: Union[bytes, bytearray], max_head: int, max_body: int = 65536) -> Union[None, Head, Refusal]:
    """The request head at the start of ``buf``; ``None`` while it is incomplete.

    ``max_head`` bounds the head in bytes; ``max_body`` the body we are willing to skip.
    """
    end = buf.find(b"\r\n\r\n")
    seen = buf[:end + 4] if end >= 0 else buf[:max_head + 4]
    if end < 0 and seen.endswith(b"\r"):
        seen = seen[:-1]  # the first half of a CRLF still on its way
    if seen.count(b"\n") != seen.count(b"\r\n") or seen.count(b"\r") != seen.count(b"\r\n"):
        return Refusal(400, "lines must end in CRLF")
    if end < 0:
        if len(buf) > max_head:
            return Refusal(431, f"request head longer than {max_head} bytes")
        if buf.find(b"\r\n") < 0 and len(buf) > MAX_REQUEST_LINE:
            return Refusal(414, f"request line longer than {MAX_REQUEST_LINE} bytes")
        return None
    if end + 4 > max_head:
        return Refusal(431, f"request head longer than {max_head} bytes")
    lines = bytes(buf[:end]).split(b"\r\n")
    if len(lines[0]) > MAX_REQUEST_LINE:
        return Refusal(414, f"request line longer than {MAX_REQUEST_LINE} bytes")
    parts = lines[0].split(b" ")
    if len(parts) != 3:
        return Refusal(400, "the request line must be METHOD TARGET HTTP/1.1")
    method, target, version = parts
    if not _TOKEN.fullmatch(method):
        return Refusal(400, "the method is not a token")
    if version not in (b"HTTP/1.1", b"HTTP/1.0"):
        if _VERSION.fullmatch(version):
            return Refusal(505, "only HTTP/1.0 and HTTP/1.1 are served")
        return Refusal(400, "the request line must end in HTTP/1.1")
    located = _split_target(target, method)
    if isinstance(located, Refusal):
        return located
    if len(lines) - 1 > MAX_HEADER_FIELDS:
        return Refusal(431, f"more than {MAX_HEADER_FIELDS} header fields")
    fields = _fields(lines)
    if isinstance(fields, Refusal):
        return fields
    http11 = version == b"HTTP/1.1"
    if http11 and "host" not in fields:
        return Refusal(400, "an HTTP/1.1 request needs a Host header")
    body = _body_length(fields, max_body)
    if isinstance(body, Refusal):
        return body
    tokens = {t.strip().lower() for t in fields.get("connection", "").split(",")}
    keep_alive = "close" not in tokens if http11 else "keep-alive" in tokens
    expect = body > 0 and fields.get("expect", "").lower() == "100-continue"
    request = Request(method.decode("ascii"), located[0], located[1], fields)
    return Head(request, end + 4, body, keep_alive, expect)


def _split_target(target: bytes, method: bytes) -> Union[Tuple[str, str], Refusal]:
    if not _TARGET.fullmatch(target) or b"#" in target:
        return Refusal(400, "the request target must be printable ASCII without a fragment")
    if target == b"*" and method == b"OPTIONS":
        return "*", ""
    if not target.startswith(b"/"):
        prefix = _ABSOLUTE.match(target)  # absolute form, which servers must accept
        if prefix is None:
            return Refusal(400, "the request target must start with /")
        target = target[prefix.end():]
        if not target.startswith(b"/"):
            target = b"/" + target
    path, _, query = target.decode("ascii").partition("?")
    return path, query


def _fields(lines: List[bytes]) -> Union[Dict[str, str], Refusal]:
    fields: Dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name):
            return Refusal(400, "a header line is not NAME: VALUE (or is folded)")
        value = value.strip(b" \t")
        if _BAD_VALUE.search(value):
            return Refusal(400, "a header value holds a control character")
        key = name.decode("ascii").lower()
        text = value.decode("latin-1")
        if key in fields:
            if key == "host":
                return Refusal(400, "more than one Host header")
            fields[key] += ", " + text
        else:
            fields[key] = text
    return fields


def _body_length(fields: Mapping[str, str], max_body: int) -> Union[int, Refusal]:
    if "transfer-encoding" in fields:
        if "content-length" in fields:
            return Refusal(400, "both Transfer-Encoding and Content-Length")
        return Refusal(501, "Transfer-Encoding is not supported; send Content-Length or no body")
    given = fields.get("content-length")
    if given is None:
        return 0
    copies = {c.strip() for c in given.split(",")}
    if len(copies) != 1:
        return Refusal(400, "Content-Length given with different values")
    text = copies.pop()
    if not _DIGITS.fullmatch(text):
        return Refusal(400, "Content-Length is not a number")
    if int(text) > max_body:
        return Refusal(413, f"request body longer than {max_body} bytes")
    return int(text)


def http_date(seconds: float) -> str:
    """IMF-fixdate, the format of the Date header: ``Sun, 06 Nov 1994 08:49:37 GMT``."""
    t = time.gmtime(seconds)
    day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[t.tm_wday]
    month = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")[t.tm_mon - 1]
    return f"{day}, {t.tm_mday:02d} {month} {t.tm_year} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"


def status_line(status: int) -> str:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = ""
    return f"HTTP/1.1 {status} {reason}\r\n"


def encode_response(response: Response, head_only: bool, connection: Optional[str], date: str,
                    server: str) -> bytes:
    """Status line, headers and body in one buffer, so the answer leaves in one write.

    ``connection`` is the Connection header to send ("close", "keep-alive") or None.
    Raises ValueError when an extra header could split the head (CR or LF in it).
    """
    top = [status_line(response.status), "Server: ", server, "\r\nDate: ", date,
           "\r\nContent-Type: ", response.content_type, "\r\nContent-Length: ", str(len(response.body)), "\r\n"]
    for name, value in response.headers:
        top += (name, ": ", value, "\r\n")
    if connection is not None:
        top += ("Connection: ", connection, "\r\n")
    top.append("\r\n")
    for text in (response.content_type, *(part for field in response.headers for part in field)):
        if "\r" in text or "\n" in text:
            raise ValueError(f"the response header text {text[:40]!r} holds CR or LF")
    data = "".join(top).encode("latin-1")
    return data if head_only else data + response.body


__all__ = ["Head", "Refusal", "Request", "Response", "encode_response", "http_date", "parse_head", "status_line"]
