"""The shipped snippet inside the real collectd (Debian's collectd-core), read back via csv.

Each run: a simulated bridge replays a payload, collectd runs in the foreground with
collectd/jitsi.conf unchanged except for URL and ModulePath (the checkout's plugins/
folder, so collectd's own Python imports this package with Debian's standard library),
``<Plugin csv> DataDir "stdout"`` prints every value as a PUTVAL line, and the test stops
collectd with SIGTERM once the bridge has been read twice. csv buffers stdout until
collectd exits, which is why the lines are parsed only after the stop.
"""
from __future__ import annotations

import json
import math
import re
import signal
import subprocess
from contextlib import ExitStack
from pathlib import Path
from typing import Callable, Dict, Iterator, List, NamedTuple, Tuple

import pytest

from conftest import REPO, child_env, load_json, missing, real_payload_files, require_tool, serving
from golden import case_of, expected_collectd_values
from waiting import wait_until

SNIPPET = REPO / "collectd" / "jitsi.conf"
DEFAULT_URL = "http://localhost:8080/colibri/stats"
MODULE_PATH_LINE = 'ModulePath "/opt/jitsi-meet-metrics/lib"'
# The trap: a PATH that finds pyenv's or a venv's python first makes collectd's embedded
# interpreter load that Python's standard library instead of Debian's own.
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
HOST = "host"
PUTVAL = re.compile(r"PUTVAL (\S+) interval=\S+ [0-9.]+:(\S+)")
FAILURE_SIGNS = ("Unhandled python exception", "read-function of plugin", "Traceback", "python plugin: ")


def collectd_config(directory: Path, url: str, more_bridges: str = "") -> Path:
    """A main collectd.conf that includes the shipped snippet with URL and ModulePath set
    (and ``more_bridges`` put at the end of its <Module> block)."""
    snippet = SNIPPET.read_text(encoding="utf-8")
    assert snippet.count(DEFAULT_URL) == 1 and snippet.count(MODULE_PATH_LINE) == 1
    snippet = snippet.replace(DEFAULT_URL, url).replace(MODULE_PATH_LINE, f'ModulePath "{REPO / "plugins"}"')
    snippet = snippet.replace("  </Module>", more_bridges + "  </Module>")
    (directory / "jitsi.conf").write_text(snippet, encoding="utf-8")
    main = directory / "collectd.conf"
    main.write_text(
        f'Hostname "{HOST}"\nFQDNLookup false\nInterval 1\nBaseDir "{directory}"\n'
        f'PIDFile "{directory}/collectd.pid"\n'
        'LoadPlugin csv\n<Plugin csv>\n  DataDir "stdout"\n  StoreRates false\n</Plugin>\n'
        f'Include "{directory / "jitsi.conf"}"\n',
        encoding="utf-8",
    )
    return main


class Run(NamedTuple):
    values: Dict[str, List[str]]  # identifier -> every printed value, in order
    log: str


class Collectd:
    """One foreground collectd process with stdout and stderr in files."""

    def __init__(self, directory: Path, url: str, more_bridges: str = "") -> None:
        self.directory = directory
        conf = collectd_config(directory, url, more_bridges)
        env = child_env(PATH=SYSTEM_PATH)
        env.pop("VIRTUAL_ENV", None)
        self.out = open(directory / "stdout", "wb")
        self.err = open(directory / "stderr", "wb")
        self.process = subprocess.Popen([require_tool("collectd"), "-f", "-C", str(conf)],
                                        stdout=self.out, stderr=self.err, env=env)

    def log(self) -> str:
        return (self.directory / "stderr").read_text(encoding="utf-8", errors="replace")

    def stop(self) -> Run:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail("collectd did not stop within 10 s of SIGTERM")
        self.out.close()
        self.err.close()
        values: Dict[str, List[str]] = {}
        for line in (self.directory / "stdout").read_text(encoding="utf-8").splitlines():
            match = PUTVAL.fullmatch(line)
            if match:
                values.setdefault(match.group(1), []).append(match.group(2))
        return Run(values, self.log())


def wait_for(condition: Callable[[], bool], what: str, runs: List[Collectd], timeout: float = 15.0) -> None:
    def done() -> bool:
        for run in runs:
            if run.process.poll() is not None:
                pytest.fail(f"collectd exited early ({run.process.returncode}): {run.log()[-2000:]}")
        return condition()

    try:
        wait_until(done, timeout, interval=0.05, what=what)
    except AssertionError as exc:
        pytest.fail(f"{exc}: {runs[0].log()[-2000:]}")


def expected_values(payload: Path) -> Dict[str, Tuple[str, float]]:
    """identifier -> (type, value), from the payload's golden case (tests/cases/*/expected.collectd),
    which was reviewed by hand against the payload."""
    return {f"{HOST}/jitsi-{instance}/{kind}-{type_instance}": (kind, value)
            for (instance, kind, type_instance), value in expected_collectd_values(case_of(payload)).items()}


def same(kind: str, printed: str, expected: float) -> bool:
    if kind == "derive":  # printed as an integer
        return int(printed) == int(expected)
    got = float(printed)  # csv prints gauges with %f: six decimals
    if math.isnan(expected):
        return math.isnan(got)
    return math.isclose(got, expected, rel_tol=1e-12, abs_tol=5e-7)


PAYLOADS = [p for p in real_payload_files() if isinstance(load_json(p), dict)]


@pytest.fixture(scope="module")
def payload_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Run]]:
    """All payloads at once: one simulated bridge and one collectd each, in parallel."""
    if not PAYLOADS:
        missing("no real payloads in tests/payloads/real")
    require_tool("collectd")
    runs: List[Collectd] = []
    with ExitStack() as stack:
        servers = [stack.enter_context(serving(p.read_bytes())) for p in PAYLOADS]
        try:
            for path, server in zip(PAYLOADS, servers):
                runs.append(Collectd(tmp_path_factory.mktemp(path.stem[:40]), server.url))
            # Two requests each: the first read has dispatched all its values.
            wait_for(lambda: all(s.requests >= 2 for s in servers), "two reads of every bridge", runs)
            yield {path.name: run.stop() for path, run in zip(PAYLOADS, runs)}
        finally:
            for run in runs:
                if run.process.poll() is None:
                    run.process.kill()
                    run.process.wait()


@pytest.mark.parametrize("name", [p.name for p in PAYLOADS])
def test_real_payload_every_value_through_real_collectd(payload_runs: Dict[str, Run], name: str) -> None:
    run = payload_runs[name]
    for sign in FAILURE_SIGNS:
        assert sign not in run.log, run.log
    expected = expected_values(next(p for p in PAYLOADS if p.name == name))
    values = dict(run.values)
    up = values.pop(f"{HOST}/jitsi-meet1/gauge-up")
    assert expected.pop(f"{HOST}/jitsi-meet1/gauge-up") == ("gauge", 1.0)
    assert up and all(float(v) == 1.0 for v in up)
    durations = values.pop(f"{HOST}/jitsi-meet1/duration-poll")
    assert durations and all(0 <= float(v) < 5 for v in durations)
    assert set(values) == set(expected)
    for identifier, printed in values.items():
        kind, value = expected[identifier]
        assert printed and all(same(kind, p, value) for p in printed), (identifier, printed, value)


def test_bridge_down_then_back_one_warning_one_notice(tmp_path: Path) -> None:
    require_tool("collectd")
    source = max(PAYLOADS, key=lambda p: len(load_json(p)), default=None)
    if source is None:
        missing("no real payloads in tests/payloads/real")
    payload = load_json(source)
    # The trap seen on a real bridge: a held counter at 2**64-1, beyond collectd's derive.
    payload["total_bytes_sent"] = 2 ** 64 - 1
    with serving(json.dumps(payload).encode()) as server:
        server.fault = "html-500"
        run = Collectd(tmp_path, server.url)
        try:
            wait_for(lambda: server.requests >= 3, "three failed reads", [run])
            server.fault = None
            seen = server.requests
            wait_for(lambda: server.requests >= seen + 2, "two good reads", [run])
            result = run.stop()
        finally:
            if run.process.poll() is None:
                run.process.kill()
                run.process.wait()
    lines = [line for line in result.log.splitlines() if line.startswith("jitsi plugin: ")]
    assert len(lines) == 3, result.log
    assert 'Bridge "meet1"' in lines[0] and "HTTP 500" in lines[0]
    assert lines[1] == 'jitsi plugin: Bridge "meet1" is answering again'
    assert '"total_bytes_sent" is outside' in lines[2] and "skipped" in lines[2]
    for sign in FAILURE_SIGNS:
        assert sign not in result.log, result.log
    up = [float(v) for v in result.values[f"{HOST}/jitsi-meet1/gauge-up"]]
    assert up[:3] == [0.0, 0.0, 0.0] and up[-1] == 1.0 and up == sorted(up)
    assert f"{HOST}/jitsi-meet1/derive-total_bytes_sent" not in result.values
    assert f"{HOST}/jitsi-meet1/derive-total_bytes_received" in result.values
    assert f"{HOST}/jitsi-meet1/gauge-conferences" in result.values


def test_two_bridges_one_refusing_inside_collectd(tmp_path: Path) -> None:
    """Several bridges are polled from threads inside collectd's embedded Python."""
    require_tool("collectd")
    with serving() as gone:
        pass  # nothing listens on its port any more
    with serving() as server:  # the simulated bridge, changing from read to read
        meet2 = f'    <Bridge "meet2">\n      URL "{gone.url}"\n      Timeout 0.5\n    </Bridge>\n'
        run = Collectd(tmp_path, server.url, meet2)
        try:
            wait_for(lambda: server.requests >= 3, "three reads", [run])
            result = run.stop()
        finally:
            if run.process.poll() is None:
                run.process.kill()
                run.process.wait()
    for sign in FAILURE_SIGNS:
        assert sign not in result.log, result.log
    lines = [line for line in result.log.splitlines() if line.startswith("jitsi plugin: ")]
    assert len(lines) == 1 and 'Bridge "meet2"' in lines[0] and "cannot connect" in lines[0], result.log
    assert set(result.values[f"{HOST}/jitsi-meet2/gauge-up"]) == {"0.000000"}
    assert {i.split("/")[2] for i in result.values if "/jitsi-meet2/" in i} == {"gauge-up", "duration-poll"}
    assert set(result.values[f"{HOST}/jitsi-meet1/gauge-up"]) == {"1.000000"}
    assert len(result.values[f"{HOST}/jitsi-meet1/derive-total_conferences_created"]) >= 2


DOC_EXAMPLE = re.compile(r"<!-- collectd output of (\S+) -->\n```\n(.*?)```", re.S)


def test_doc_examples_match_real_collectd_output(payload_runs: Dict[str, Run]) -> None:
    """docs/collectd.md shows PUTVAL lines from a real run; they must still be what collectd prints."""
    doc = (REPO / "docs" / "collectd.md").read_text(encoding="utf-8")
    examples = DOC_EXAMPLE.findall(doc)
    assert len(examples) >= 2
    for name, block in examples:
        run = payload_runs[name]
        for line in block.splitlines():
            identifier, printed = PUTVAL.fullmatch(line).groups()  # type: ignore[union-attr]
            assert identifier in run.values, (name, identifier)
            if not identifier.endswith("/duration-poll"):
                assert printed in run.values[identifier], (name, line, run.values[identifier])


def test_default_config_bridge_through_metrics_inside_collectd(tmp_path: Path) -> None:
    """A bridge with its REST API off (the default), given by its base URL (meet2) or its
    /metrics URL (meet3), gives inside collectd what a REST-on bridge (meet1) gives, plus
    the conference histograms; one line says which endpoint the base URL led to."""
    require_tool("collectd")
    with serving() as on, serving(rest_enabled=False) as off:
        more = (f'    <Bridge "meet2">\n      URL "{off.base_url}"\n    </Bridge>\n'
                f'    <Bridge "meet3">\n      URL "{off.base_url}/metrics"\n    </Bridge>\n')
        run = Collectd(tmp_path, on.url, more)
        try:
            wait_for(lambda: on.requests >= 3 and off.requests >= 8, "three reads of each", [run])
            result = run.stop()
        finally:
            if run.process.poll() is None:
                run.process.kill()
                run.process.wait()
    for sign in FAILURE_SIGNS:
        assert sign not in result.log, result.log
    lines = [line for line in result.log.splitlines() if line.startswith("jitsi plugin: ")]
    assert len(lines) == 1, result.log
    assert lines[0].startswith(f'jitsi plugin: Bridge "meet2": reading {off.base_url}/metrics, JVB /metrics')

    def instances(bridge: str) -> set:  # type: ignore[type-arg]
        return {i.split("/")[2] for i in result.values if f"/jitsi-{bridge}/" in i}

    only_in_colibri = {i for i in instances("meet1") - instances("meet2")
                       if i.startswith(("gauge-version-", "gauge-release-", "gauge-relay_id-"))
                       or i == "gauge-average_participant_stress"}
    assert instances("meet1") - instances("meet2") == only_in_colibri
    assert instances("meet2") == instances("meet3")
    for bridge in ("meet2", "meet3"):
        assert set(result.values[f"{HOST}/jitsi-{bridge}/gauge-up"]) == {"1.000000"}
        assert f"{HOST}/jitsi-{bridge}/gauge-conferences_by_size_bucket-2.0" in result.values
        assert f"{HOST}/jitsi-{bridge}/derive-total_conferences_created" in result.values
