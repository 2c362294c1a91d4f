"""Asking a Jitsi component what it serves: the I/O half of detection.

``get(url, options)`` returns an ``Answer`` or raises ``ProbeError`` whose ``kind`` says
how it failed (timeout, TLS, refused, DNS, other). ``discover(url, options)`` asks
/about/version and then, for a base URL, each of detect.BASE_PATHS until the best source
answers; for a full URL only that path. Every judgement is detect.py's.
"""
from __future__ import annotations

from typing import List, NamedTuple, Optional, Tuple, Union
from urllib.parse import urlsplit, urlunsplit

import requests

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


def _kind(exc: requests.RequestException) -> str:
    text = str(exc)
    if isinstance(exc, requests.exceptions.SSLError):
        return TLS
    if isinstance(exc, requests.exceptions.Timeout):
        return TIMEOUT
    if "Name or service not known" in text or "getaddrinfo" in text or "nodename nor servname" in text:
        return DNS
    if isinstance(exc, requests.exceptions.ConnectionError):
        return REFUSED if "refused" in text.lower() else OTHER
    return OTHER


def _root(exc: BaseException) -> str:
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 160 else text[:160] + "…"


def get(url: str, options: BridgeOptions, session: Optional[requests.Session] = None) -> Answer:
    """One GET with the right Accept header, the body bounded by options.max_bytes."""
    headers = {"Accept": accept_header(urlsplit(url).path)}
    if options.token:
        headers["Authorization"] = f"Bearer {options.token}"
    auth = (options.username, options.password or "") if options.username else None
    verify: Union[str, bool] = options.ca_file if options.ca_file else options.verify_tls
    http = session or requests
    try:
        response = http.get(url, headers=headers, auth=auth, verify=verify, timeout=options.timeout, stream=True,
                            allow_redirects=False)
        try:
            body = b""
            for chunk in response.iter_content(65536):
                body += chunk
                if len(body) > options.max_bytes:
                    raise ProbeError(OTHER, f"the answer is larger than {options.max_bytes} bytes")
        finally:
            response.close()
    except requests.RequestException as exc:
        raise ProbeError(_kind(exc), _root(exc)) from None
    return Answer(response.status_code, response.headers.get("Content-Type", ""), body)


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


def discover(url: str, options: BridgeOptions, session: Optional[requests.Session] = None) -> Discovery:
    """What ``url`` serves. Raises ProbeError only when nothing at that host answers."""
    parts = urlsplit(url)
    base = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    component: Optional[Component] = None
    version_error: Optional[ProbeError] = None
    try:
        component = parse_about_version(get(base + VERSION_PATH, options, session))
    except ProbeError as exc:
        version_error = exc
    paths: Tuple[str, ...] = BASE_PATHS if is_base_url(parts.path) else (parts.path,)
    probed: List[Probed] = []
    for path in paths:
        target = base + path if is_base_url(parts.path) else url
        try:
            answer = get(target, options, session)
        except ProbeError:
            if version_error is not None or len(paths) == 1:
                raise
            continue
        verdict = classify(path, answer, component)
        probed.append(Probed(target, path, answer, verdict))
        if verdict.source == JVB_COLIBRI:
            break  # the best there is; no need to ask further
    best = choose([(p.path, p.verdict) for p in probed])
    chosen = next((p for p in probed if best is not None and p.path == best[0]), None)
    return Discovery(component, probed, chosen)
