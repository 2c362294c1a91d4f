"""Asking a Jitsi component what it serves: the I/O half of detection.

``get(url, options, deadline)`` returns an ``Answer`` or raises ``ProbeError`` whose ``kind``
says how it failed (timeout, TLS, refused, DNS, other); it asks through fetch.BridgeClient, so
one total deadline bounds connect, headers and body. ``discover(url, options)`` asks
/about/version and then, for a base URL, each of detect.BASE_PATHS until the best source
answers; for a full URL only that path. All of one discovery's requests share one deadline
and it stops when that is spent. Every judgement is detect.py's.
"""
from __future__ import annotations

import dataclasses
import re
import time
from typing import List, NamedTuple, Optional, Tuple
from urllib.parse import urlsplit, urlunsplit

from .config import BridgeOptions
from .detect import (
    BASE_PATHS,
    JVB_COLIBRI,
    VERSION_PATH,
    Answer,
    Component,
    Verdict,
    choose,
    classify,
    is_base_url,
    parse_about_version,
)
from .fetch import BridgeClient, FetchConnectionError, FetchError, FetchTimeout, FetchTooLarge
from .sources import accept_header

TIMEOUT = "timeout"
TLS = "tls"
REFUSED = "refused"
DNS = "dns"
OTHER = "other"


class ProbeError(Exception):
    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


def _kind(error: FetchError) -> str:
    """The ProbeError kind of what BridgeClient raised (its reason keeps the root cause's text)."""
    if isinstance(error, FetchTimeout):
        return TIMEOUT
    if not isinstance(error, FetchConnectionError):
        return OTHER
    text = error.reason
    if "SSL" in text or "certificate" in text.lower() or "TLS" in text:
        return TLS
    if ("Name or service not known" in text or "getaddrinfo" in text or "nodename nor servname" in text
            or "name resolution" in text):
        return DNS
    return REFUSED if "refused" in text.lower() else OTHER


_WITHIN = re.compile(r" within [0-9.e+-]+ s \(timeout\)$")


def _reason(error: FetchError) -> str:
    text = error.reason
    for prefix in ("cannot connect: ",):
        if text.startswith(prefix):
            text = text[len(prefix):]
    return text if len(text) <= 160 else text[:160] + "…"


def get(url: str, options: BridgeOptions, deadline: Optional[float] = None) -> Answer:
    """One GET with the right Accept header, the body bounded by options.max_bytes.

    Connect, headers and body together end by ``deadline`` (time.monotonic()), by default
    ``options.timeout`` from now: BridgeClient's watchdog cuts a bridge that trickles, which
    a per-read socket timeout would not.
    """
    if deadline is None:
        deadline = time.monotonic() + options.timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise ProbeError(TIMEOUT, f"{urlsplit(url).path or '/'}: no time was left to ask it (timeout)")
    client = BridgeClient(dataclasses.replace(options, url=url), accept=accept_header(urlsplit(url).path))
    try:
        answer, _ = client.fetch_answer(left)
    except FetchTooLarge:
        raise ProbeError(OTHER, f"the answer is larger than {options.max_bytes} bytes") from None
    except FetchError as error:
        kind = _kind(error)
        reason = _reason(error)
        if kind == TIMEOUT:  # what it was waiting for; the caller says how long
            reason = f"{urlsplit(url).path or '/'}: {_WITHIN.sub('', reason)}"
        raise ProbeError(kind, reason) from None
    finally:
        client.close()
    return answer


def with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + path, "", ""))


class Probed(NamedTuple):
    url: str
    path: str
    answer: Answer
    verdict: Verdict


class Discovery(NamedTuple):
    component: Optional[Component]
    probed: List[Probed]
    chosen: Optional[Probed]

    def summary(self, name: str) -> str:
        """The one line a front end logs once: which endpoint it uses, or why none."""
        if self.chosen is not None:
            passed = [f"{p.path}: {p.verdict.message}" for p in self.probed if p is not self.chosen]
            why = f" ({'; '.join(passed)})" if passed else ""
            return f'Bridge "{name}": reading {self.chosen.url}, {self.chosen.verdict.message}{why}'
        if not self.probed:
            return f'Bridge "{name}": nothing answered'
        return f'Bridge "{name}": no statistics here; ' + "; ".join(f"{p.path}: {p.verdict.message}"
                                                                       for p in self.probed)


def discover(url: str, options: BridgeOptions, deadline: Optional[float] = None) -> Discovery:
    """What ``url`` serves. Raises ProbeError only when nothing at that host answers, or
    when the one ``deadline`` (by default ``options.timeout`` from now) every request of
    the discovery shares is spent before a source answered (kind TIMEOUT)."""
    if deadline is None:
        deadline = time.monotonic() + options.timeout
    parts = urlsplit(url)
    base = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    component: Optional[Component] = None
    version_error: Optional[ProbeError] = None
    try:
        component = parse_about_version(get(base + VERSION_PATH, options, deadline))
    except ProbeError as exc:
        if exc.kind == TIMEOUT:
            raise  # the whole budget is spent: asking further would only overrun it
        version_error = exc
    paths: Tuple[str, ...] = BASE_PATHS if is_base_url(parts.path) else (parts.path,)
    probed: List[Probed] = []
    for path in paths:
        target = base + path if is_base_url(parts.path) else url
        try:
            answer = get(target, options, deadline)
        except ProbeError as exc:
            if exc.kind == TIMEOUT or version_error is not None or len(paths) == 1:
                raise
            continue
        verdict = classify(path, answer, component)
        probed.append(Probed(target, path, answer, verdict))
        if verdict.source == JVB_COLIBRI:
            break  # the best there is; no need to ask further
    best = choose([(p.path, p.verdict) for p in probed])
    chosen = next((p for p in probed if best is not None and p.path == best[0]), None)
    return Discovery(component, probed, chosen)
