"""``jitsi-metrics check URL…``: what each URL is and what to do about it, for a person.

``diagnose(url, options)`` asks the URL's host for /about/version and every statistics
path (probe.py), judges each answer (detect.py) and maps the usable ones (sources.py) to
count their metrics. ``render_report`` writes one paragraph per URL; ``--format json``
writes the same reports for scripts. Exit 0 when every URL gives metrics, 1 otherwise.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from typing import IO, Any, Callable, Dict, List, NamedTuple, Optional
from urllib.parse import urlsplit

from .config import BridgeOptions
from .detect import (
    BASE_PATHS,
    SOURCE_TITLES,
    VERSION_PATH,
    Component,
    Verdict,
    choose,
    classify,
    is_base_url,
    parse_about_version,
)
from .probe import DNS, REFUSED, TIMEOUT, TLS, ProbeError, get
from .samples import HISTOGRAM_SUFFIXES
from .sources import SourceError, map_answer

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")
CONTAINER_HINT = ("if this command runs in a container, localhost is the container itself, not the host: "
                  "use the host's address or the component's service name (e.g. http://jvb:8080)")


class PathReport(NamedTuple):
    path: str
    source: Optional[str]
    metrics: int
    samples: int
    message: str


class UrlReport(NamedTuple):
    url: str
    reachable: bool
    error: str
    component: Optional[Component]
    paths: List[PathReport]
    chosen: Optional[str]

    @property
    def ok(self) -> bool:
        return self.chosen is not None

    def as_json(self) -> Dict[str, Any]:
        return {
            "url": self.url,
            "ok": self.ok,
            "reachable": self.reachable,
            "error": self.error or None,
            "component": self.component._asdict() if self.component else None,
            "uses": self.chosen,
            "paths": [p._asdict() for p in self.paths],
        }


def _failure_advice(kind: str, reason: str, url: str, options: BridgeOptions) -> str:
    host = urlsplit(url).hostname or ""
    if kind == TLS:
        text = (f"TLS failed ({reason}): give --ca-file with the CA that signed the certificate, or use http:// "
                "on the private port (JVB :8080 and Jicofo :8888 speak plain HTTP)")
    elif kind == TIMEOUT:
        text = (f"no answer within {options.timeout:g} s ({reason}): a firewall dropping packets, a wrong host, or "
                "a server too slow to answer in time; JVB and Jicofo listen on 127.0.0.1 only by default")
    elif kind == REFUSED:
        text = "connection refused: nothing listens there; is the component running, and on this port?"
    elif kind == DNS:
        text = f"the host name {host!r} does not resolve"
    else:
        text = f"cannot connect: {reason}"
    if host in LOCAL_HOSTS and kind in (REFUSED, TIMEOUT):
        text += "; " + CONTAINER_HINT
    return text


def _metric_count(names: List[str], types: List[str]) -> int:
    families = set()
    for name, mtype in zip(names, types):
        if mtype == "histogram":
            for suffix in HISTOGRAM_SUFFIXES:
                if name.endswith(suffix):
                    name = name[: -len(suffix)]
                    break
        families.add(name)
    return len(families)


def diagnose(url: str, options: BridgeOptions, fetch: Callable[[str, BridgeOptions], Any] = get) -> UrlReport:
    """Ask everything at ``url``'s host; the path of ``url`` (if any) is reported first.

    All the requests of one URL share one deadline, ``options.timeout`` from now (a bridge
    that trickles or hangs costs one timeout, not one per path); the paths not asked once
    it is spent say so.
    """
    deadline = time.monotonic() + options.timeout

    def ask(target: str) -> Any:
        left = deadline - time.monotonic()
        if left <= 0:
            raise ProbeError(TIMEOUT, f"no time was left to ask {urlsplit(target).path}")
        return fetch(target, dataclasses.replace(options, timeout=left))

    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}"
    given = "" if is_base_url(parts.path) else parts.path
    paths = [given] + [p for p in BASE_PATHS if p != given] if given else list(BASE_PATHS)
    component: Optional[Component] = None
    try:
        component = parse_about_version(ask(base + VERSION_PATH))
    except ProbeError as exc:
        return UrlReport(url, False, _failure_advice(exc.kind, exc.reason, url, options), None, [], None)
    reports: List[PathReport] = []
    for path in paths:
        try:
            answer = ask(base + path)
        except ProbeError as exc:
            reports.append(PathReport(path, None, 0, 0, _failure_advice(exc.kind, exc.reason, url, options)))
            continue
        verdict = classify(path, answer, component)
        if verdict.source is None:
            reports.append(PathReport(path, None, 0, 0, verdict.message))
            continue
        try:
            mapped = map_answer(verdict.source, answer)
        except SourceError as exc:
            reports.append(PathReport(path, None, 0, 0, f"{SOURCE_TITLES[verdict.source]}, but {exc}"))
            continue
        samples = mapped.samples
        count = _metric_count([s.name for s in samples], [s.type for s in samples])
        reports.append(PathReport(path, verdict.source if samples else None, count, len(samples),
                                  SOURCE_TITLES[verdict.source]))
    usable = [(p.path, p) for p in reports if p.source is not None]
    if given:
        # The path the user named decides; the others only inform.
        usable = [(p, r) for p, r in usable if p == given]
    best = choose([(p, Verdict(r.source, "", r.message)) for p, r in usable])
    return UrlReport(url, True, "", component, reports, best[0] if best else None)


def render_report(report: UrlReport) -> str:
    """One paragraph: reachability, component, each path, and the conclusion."""
    if not report.reachable:
        return f"{report.url}: not reachable: {report.error}.\n"
    who = (f"{report.component.name} {report.component.version}".strip() + " answered /about/version"
           if report.component else "nothing answered /about/version (not a JVB or Jicofo, or an old one)")
    lines = [f"{report.url}: reachable; {who}."]
    for path in report.paths:
        if path.source is not None:
            used = " <- used" if path.path == report.chosen else ""
            lines.append(f"  {path.path}: {path.message}, {path.metrics} metrics ({path.samples} samples){used}")
        else:
            lines.append(f"  {path.path}: {path.message}")
    if report.chosen:
        lines.append(f"  Gives metrics through {report.chosen}.")
    else:
        others = [p.path for p in report.paths if p.source is not None]
        if others:
            parts = urlsplit(report.url)
            lines.append(f"  Gives no metrics at this path; {others[0]} on the same host does: use "
                         f"{parts.scheme}://{parts.netloc}{others[0]}, or the base URL to let the tool choose.")
        else:
            lines.append("  Gives no metrics; see the lines above for what to change.")
    return "\n".join(lines) + "\n"


def cmd_check(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    from .bridge_args import bridges_from_args

    urls = args.url
    args.name = None
    # One URL at a time: two URLs of one host would share the default bridge name.
    bridges = [bridges_from_args(argparse.Namespace(**{**vars(args), "url": [url]}), os.environ)[0] for url in urls]
    reports = [diagnose(b.url, b) for b in bridges]
    if args.format == "json":
        stdout.write(json.dumps([r.as_json() for r in reports], indent=2) + "\n")
    else:
        stdout.write("\n".join(render_report(r) for r in reports))
    stdout.flush()
    return 0 if all(r.ok for r in reports) else 1


def add_command(add: Callable[[str, str, str], argparse.ArgumentParser]) -> None:
    from .bridge_args import add_bridge_arguments

    parser = add("check", "Say what each URL is, what it serves and what to fix; exit 0 when all give metrics.", """
        jitsi-metrics check http://127.0.0.1:8080
        jitsi-metrics check http://127.0.0.1:8080/colibri/stats http://127.0.0.1:8888 --format json
    """)
    parser.add_argument("urls", nargs="+", metavar="URL", help="a base URL (http://host:8080) or an endpoint")
    add_bridge_arguments(parser, url_required=False)
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output (default: %(default)s)")

    def run(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
        args.url = list(args.urls) + list(args.url or [])
        return cmd_check(args, stdout, stderr)

    parser.set_defaults(func=run)
