"""Run the front ends on one golden case folder (tests/cases/<case>/) and mask what varies.

Each case's ``payload.json`` is served as it is by the simulated bridge on 127.0.0.1; what
the front ends make of it is compared with the expected files, which are reviewed by hand
(tests/cases/README.md). Nothing here computes an expectation: it only runs the program.

Two things differ from run to run and are masked, always the same way:

- the value of ``jitsi_scrape_duration_seconds`` (Prometheus), the ``scrape_duration_seconds``
  field (Influx) and ``duration/poll`` (collectd) become ``SECONDS``, after checking that the
  value was a number of seconds (finite, not negative);
- the simulated bridge's ephemeral ``127.0.0.1:<port>`` becomes ``127.0.0.1:PORT`` (the name
  of an unnamed bridge, and its URL in error lines).
"""
from __future__ import annotations

import io
import math
import re
from pathlib import Path
from typing import Any, Callable, Dict, List, NamedTuple, Tuple

from conftest import serving
from fake_collectd import Config, new_collectd, parse_config_text

CASES = Path(__file__).resolve().parent / "cases"
SNIPPET = Path(__file__).resolve().parent.parent / "collectd" / "jitsi.conf"
SNIPPET_URL = "http://localhost:8080/colibri/stats"
EXPECTED_FILES = ("expected.prom", "expected.influx", "expected.collectd", "expected.warnings")
MASK = "SECONDS"
PORT_MASK = "127.0.0.1:PORT"

_PROM_DURATION = re.compile(r"^(jitsi_scrape_duration_seconds(?:\{[^}\n]*\})?) (\S+)$", re.M)
_INFLUX_DURATION = re.compile(r"((?:^|,| )scrape_duration_seconds=)([^,\s]+)", re.M)
_COLLECTD_DURATION = re.compile(r"^(jitsi/[^/\n]*/duration/poll) (\S+)$", re.M)


class Outputs(NamedTuple):
    stdout: str
    stderr: str


def case_names() -> List[str]:
    return sorted(p.name for p in CASES.iterdir() if (p / "payload.json").is_file())


def _seconds(text: str) -> str:
    value = float(text)
    assert math.isfinite(value) and value >= 0, f"scrape duration {text!r} is not a number of seconds"
    return MASK


def _mask(pattern: "re.Pattern[str]", text: str) -> str:
    return pattern.sub(lambda m: m.group(1) + ("" if pattern is _INFLUX_DURATION else " ") + _seconds(m.group(2)),
                       text)


def mask_duration(text: str, fmt: str) -> str:
    """The masking of the expected files, for output of ``fmt`` ("prometheus", "influx", "collectd")."""
    pattern = {"prometheus": _PROM_DURATION, "influx": _INFLUX_DURATION, "collectd": _COLLECTD_DURATION}[fmt]
    return _mask(pattern, text)


def expected_text(case: str, fmt: str) -> str:
    """The reviewed expected output of golden case ``case`` for ``fmt`` ("prometheus" or "influx")."""
    return (CASES / case / ("expected.prom" if fmt == "prometheus" else "expected.influx")).read_text(encoding="utf-8")


def mask_address(text: str, address: Tuple[str, int]) -> str:
    return text.replace(f"{address[0]}:{address[1]}", PORT_MASK)


def _serve(case: Path, run: Callable[[str], Any]) -> Tuple[Any, Tuple[str, int]]:
    with serving((case / "payload.json").read_bytes()) as server:
        return run(server.url), server.address


def run_once(case: Path, fmt: str) -> Outputs:
    """``jitsi-metrics once --url <bridge> [--format influx]``, through the CLI's entry point."""
    from jitsi_metrics.cli import main

    def once(url: str) -> Outputs:
        stdout, stderr = io.StringIO(), io.StringIO()
        argv = ["once", "--url", url] + (["--format", fmt] if fmt != "prometheus" else [])
        assert main(argv, stdout=stdout, stderr=stderr) == 0
        return Outputs(stdout.getvalue(), stderr.getvalue())

    out, address = _serve(case, once)
    pattern = _PROM_DURATION if fmt == "prometheus" else _INFLUX_DURATION
    return Outputs(_mask(pattern, mask_address(out.stdout, address)), mask_address(out.stderr, address))


def snippet_module(url: str) -> Config:
    """The shipped collectd snippet's <Module> block, parsed as collectd would, with ``url``."""
    text = SNIPPET.read_text(encoding="utf-8")
    assert text.count(SNIPPET_URL) == 1
    root = parse_config_text(text.replace(SNIPPET_URL, url))
    python = next(c for c in root.children if c.key == "Plugin" and c.values == ("python",))
    return next(c for c in python.children if c.key == "Module")


def run_collectd(case: Path) -> str:
    """What the collectd plugin, configured by the shipped snippet, dispatches and logs in one read.

    One line per value, ``plugin/plugin_instance/type/type_instance value`` (the value as the
    fake collectd converted it for its types.db type), then one line per log message,
    ``log <level>: <message>``.
    """
    from jitsi_metrics.collectd_plugin import CollectdPlugin

    fake = new_collectd()

    def read(url: str) -> None:
        plugin = CollectdPlugin(fake)
        plugin.configure(snippet_module(url))
        plugin.init()
        ((callback, _),) = fake.callbacks["read"]
        try:
            callback()
        finally:
            plugin.shutdown()

    _, address = _serve(case, read)
    lines = [f"{d.plugin}/{d.plugin_instance}/{d.type}/{d.type_instance} {' '.join(map(repr, d.values))}"
             for d in fake.dispatched]
    lines += [f"log {level}: {message}" for level, message in fake.logs]
    return _mask(_COLLECTD_DURATION, mask_address("".join(line + "\n" for line in lines), address))


def actual_outputs(case: Path) -> Dict[str, str]:
    """Every expected file's content as the program makes it today (for --update-goldens)."""
    prom, influx = run_once(case, "prometheus"), run_once(case, "influx")
    assert prom.stderr == influx.stderr, "the warnings depend on the output format"
    return {
        "expected.prom": prom.stdout,
        "expected.influx": influx.stdout,
        "expected.collectd": run_collectd(case),
        "expected.warnings": prom.stderr,
    }


def write_expected(case: Path) -> None:
    for name, text in actual_outputs(case).items():
        (case / name).write_text(text, encoding="utf-8")


def case_of(payload: Path) -> Path:
    """The golden case folder whose payload.json is a copy of ``payload``."""
    repo = CASES.parent.parent
    wanted = f"copy-of: {payload.resolve().relative_to(repo).as_posix()}"
    for name in case_names():
        if (CASES / name / "source.txt").read_text(encoding="utf-8").split("\n", 1)[0] == wanted:
            return CASES / name
    raise LookupError(f"no golden case is a copy of {payload}")


def expected_collectd_values(case: Path) -> Dict[Tuple[str, str, str], float]:
    """(plugin instance, type, type instance) -> value, from the case's reviewed expected.collectd
    (values only: the masked duration and the log lines are left out)."""
    out: Dict[Tuple[str, str, str], float] = {}
    for line in (case / "expected.collectd").read_text(encoding="utf-8").splitlines():
        if line.startswith("log ") or line.endswith(" " + MASK):
            continue
        identifier, value = line.rsplit(" ", 1)
        _, instance, kind, type_instance = identifier.split("/", 3)
        out[(instance, kind, type_instance)] = float(value)
    return out
