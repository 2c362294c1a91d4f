"""The shipped snippets in a real Telegraf, against the simulated bridge and the real payloads.

Each snippet runs unchanged except for two substitutions: the placeholder URL becomes a
local bridge's, and ``jitsi-metrics`` becomes the absolute path of the installed console
script (the snippets rely on the user's PATH; the test must not depend on this
machine's PATH, and wants the console script of the Python running the tests).

One Telegraf per snippet runs one copy of the snippet per source (the simulated bridge
and every payload in tests/payloads/real), each followed by a ``[inputs.<plugin>.tags]``
table the test appends, so the metrics of each copy can be told apart in the output.
Two more copies read live simulations by their base URL: a default-config bridge (REST API
off, so its statistics come from /metrics) and a Jicofo; their values change from poll to
poll, so for them the names are checked, not the values.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Set, Tuple

import pytest

from conftest import child_env, real_payload_files, require_tool, serving
from golden import CASES, case_of
from jitsi_metrics.simulate import BridgeServer
from telegraf_helpers import (
    COMMAND_SNIPPETS,
    PLACEHOLDER_URL,
    Key,
    Point,
    console_script,
    missing_or_wrong,
    parse_line_protocol,
    telegraf_view,
)
from waiting import wait_until

pytestmark = pytest.mark.integration

SOURCE_TAG = "jitsi_test_source"
SIMULATED = "simulated"  # the source that goes down and comes back
SIMULATED_CASE = "era-jvb2-head"
PLUGIN = {"execd-prometheus": "execd", "execd-influx": "execd", "exec-once": "exec"}
FORMAT = {"execd-prometheus": "prometheus", "execd-influx": "influx", "exec-once": "prometheus"}
# exec starts a Python process per source and interval; 3 s keeps 9 of them well within 2 cores.
INTERVAL = {"execd-prometheus": "1s", "execd-influx": "1s", "exec-once": "3s"}
# Telegraf's own start-up notices about its defaults (not about our plugin).
OWN_STARTUP = re.compile(r" W! (Strict environment variable handling|\[agent\] )")
# Telegraf 1.39 logs this for an execd plugin's pipes while it shuts down (see integrations.md).
SHUTDOWN_NOISE = "read |0: file already closed"


REST_OFF = "rest-off-base-url"  # a default-config simulated bridge, by its base URL
JICOFO = "jicofo-base-url"  # a simulated Jicofo, by its base URL
LIVE = (REST_OFF, JICOFO)
BRIDGE_NAMES = ("conferences", "endpoints", "conferences_by_size_bucket", "conferences_by_size_count")
META_NAMES = ("up", "scrape_duration_seconds")


def live_expected_names(name: str, fmt: str) -> Set[str]:
    """Field names (without ``jitsi_``) a live source must give, stated independently."""
    if name == REST_OFF:
        return set(BRIDGE_NAMES + META_NAMES)
    return {"jicofo_conferences", "jicofo_participants_current"} | set(META_NAMES)


def short(field: str) -> str:
    return field[len("jitsi_"):] if field.startswith("jitsi_") else field


def sources() -> List[Tuple[str, str]]:
    """(source name, golden case): the era fixture that fails and recovers, and every real payload."""
    return [(SIMULATED, SIMULATED_CASE)] + [(p.stem, case_of(p).name) for p in real_payload_files()]


class TelegrafRun:
    def __init__(self, telegraf: str, tmp: Path, snippet: str, servers: Dict[str, BridgeServer]) -> None:
        self.out, self.logfile = tmp / "out.influx", tmp / "telegraf.log"
        text = COMMAND_SNIPPETS[snippet].read_text(encoding="utf-8")
        config = [
            "[agent]",
            f'  interval = "{INTERVAL[snippet]}"',
            f'  flush_interval = "{INTERVAL[snippet]}"',
            "  omit_hostname = true",
            # exec's metrics are rounded to the agent's precision (1 s by default at these
            # intervals), which would hide a poll split by parse time; 1 ms shows it.
            *(['  precision = "1ms"'] if PLUGIN[snippet] == "exec" else []),
            f"  logfile = {json.dumps(str(self.logfile))}",
            "[[outputs.file]]",
            f"  files = [{json.dumps(str(self.out))}]",
            '  data_format = "influx"',
        ]
        for name, server in servers.items():
            url = server.base_url if name in LIVE else server.url
            copy = text.replace(PLACEHOLDER_URL, url).replace('"jitsi-metrics', '"' + console_script())
            config += [copy, f"[inputs.{PLUGIN[snippet]}.tags]", f'  {SOURCE_TAG} = "{name}"']
        conf = tmp / "telegraf.conf"
        conf.write_text("\n".join(config) + "\n", encoding="utf-8")
        self.stderr = open(tmp / "telegraf.stderr", "wb")
        self.proc = subprocess.Popen([telegraf, "--config", str(conf)], cwd=tmp, env=child_env(),
                                     stdin=subprocess.DEVNULL, stdout=self.stderr, stderr=self.stderr)

    def points(self, offset: int = 0) -> List[Point]:
        if not self.out.exists():
            return []
        with open(self.out, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
        return parse_line_protocol(data[:data.rfind(b"\n") + 1].decode())

    def size(self) -> int:
        return self.out.stat().st_size if self.out.exists() else 0

    def log(self) -> str:
        return self.logfile.read_text(encoding="utf-8") if self.logfile.exists() else ""

    def wait_for(self, what: str, check: Callable[[], List[str]], timeout: float = 20.0) -> None:
        problems = check()

        def settled() -> bool:
            nonlocal problems
            assert self.proc.poll() is None, f"Telegraf exited early:\n{self.log()}"
            problems = check()
            return not problems

        try:
            wait_until(settled, timeout, interval=0.25, what=what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}: " + "; ".join(problems[:10]) + f"\nTelegraf log:\n{self.log()}") from None

    def children(self) -> List[int]:
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                    found.append(int(entry))
        return found

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.stderr.close()


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def by_source(points: List[Point], name: str) -> List[Point]:
    return [p for p in points if (SOURCE_TAG, name) in p.tags]


@pytest.fixture
def servers() -> Iterator[Dict[str, BridgeServer]]:
    with ExitStack() as stack:
        found = {name: stack.enter_context(serving((CASES / case / "payload.json").read_bytes()))
                 for name, case in sources()}
        found[REST_OFF] = stack.enter_context(serving(rest_enabled=False))
        found[JICOFO] = stack.enter_context(serving(component="jicofo"))
        yield found


@pytest.mark.parametrize("snippet", sorted(COMMAND_SNIPPETS))
def test_snippet_in_real_telegraf(snippet: str, servers: Dict[str, BridgeServer], tmp_path: Path) -> None:
    telegraf = require_tool("telegraf")
    if len(servers) == 1 + len(LIVE):
        pytest.fail("no real payloads in tests/payloads/real")  # they ship beside the repo
    fmt = FORMAT[snippet]
    expected = {name: telegraf_view(case, fmt) for name, case in sources()}
    run = TelegrafRun(telegraf, tmp_path, snippet, servers)
    try:
        # 1. Every metric and value of every source arrives, and nothing else.
        def all_arrived() -> List[str]:
            points = run.points()
            problems = [f"{name}: {problem}" for name in expected
                        for problem in missing_or_wrong(expected[name], by_source(points, name), SOURCE_TAG)]
            for name in LIVE:
                fields = {short(p.field) for p in by_source(points, name)}
                problems += [f"{name}: no {field}" for field in sorted(live_expected_names(name, fmt) - fields)]
            return problems

        run.wait_for("not every metric arrived", all_arrived)
        # The live sources: up, and a Jicofo's numbers under Jicofo's names only.
        for name in LIVE:
            points = by_source(run.points(), name)
            assert {p.value for p in points if short(p.field) == "up"} == {1.0}, name
        jicofo_fields = {short(p.field) for p in by_source(run.points(), JICOFO)}
        assert all(f.startswith("jicofo_") for f in jicofo_fields - set(META_NAMES)), jicofo_fields
        for name in expected:
            got = {(p.measurement, p.tags - {(SOURCE_TAG, name)}, p.field) for p in by_source(run.points(), name)}
            assert got == set(expected[name]), f"{name}: unexpected fields {sorted(got - set(expected[name]))[:5]}"
        # One poll, one instant, seen once at least one whole poll is behind us: execd by its
        # batch's timestamp, exec-once by `once --timestamp`.
        run.wait_for("a poll did not land as one instant", lambda: [
            problem for name in expected for problem in instant_problems(
                name, by_source(run.points(), name), set(expected[name]), servers[name].requests)])

        # 2. The bridge goes down and comes back; the plugin keeps running and reports both.
        up_key = next(k for k in expected[SIMULATED] if k[2] in ("jitsi_up", "up"))
        down_from = run.size()
        servers[SIMULATED].fault = "html-500"

        def reported_down() -> List[str]:
            ups = [p.value for p in by_source(run.points(down_from), SIMULATED) if p.field == up_key[2]]
            return [] if 0.0 in ups else ["no up = 0 after the bridge broke"]

        run.wait_for("the broken bridge was not reported", reported_down)
        back_from = run.size()
        servers[SIMULATED].fault = None

        def came_back() -> List[str]:
            return missing_or_wrong(expected[SIMULATED], by_source(run.points(back_from), SIMULATED), SOURCE_TAG)

        run.wait_for("the bridge's metrics did not come back", came_back)

        # 3. Telegraf's shutdown stops every plugin process within its 5 s grace, without SIGKILL.
        children = run.children()
        if PLUGIN[snippet] == "execd":
            assert len(children) == len(servers), f"expected one plugin process per source, got {children}"
        sent = time.monotonic()
        run.proc.send_signal(signal.SIGTERM)
        run.proc.wait(15)
        wait_until(lambda: not any(alive(pid) for pid in children), 15, interval=0.05,
                   what="the plugin processes to end")
        stopped_after = time.monotonic() - sent
        assert stopped_after < 5, f"plugin processes took {stopped_after:.1f} s to stop"
        assert run.proc.returncode == 0
    finally:
        run.close()
    check_log(run.log(), snippet, servers)


def instant_problems(name: str, points: List[Point], fields: Set[Key], polls: int) -> List[str]:
    """Every line of a batch (execd) or of `once --timestamp`'s output (exec) carries the poll's
    one timestamp, which Telegraf's parser keeps (exec rounds it to the agent's precision, still
    one per poll): each timestamp Telegraf wrote holds one whole poll."""
    by_stamp: Dict[Optional[int], Set[Key]] = {}
    for p in points:
        by_stamp.setdefault(p.timestamp, set()).add((p.measurement, p.tags - {(SOURCE_TAG, name)}, p.field))
    if None in by_stamp:
        return [f"{name}: a line without a timestamp"]
    if len(by_stamp) > polls:
        return [f"{name}: {len(by_stamp)} distinct timestamps for {polls} polls"]
    # The newest poll may be cut in two by an output flush; every earlier one is whole.
    earlier = sorted(by_stamp)[:-1]  # type: ignore[type-var]
    if not earlier:
        return [f"{name}: no whole poll written yet"]
    return [f"{name}: the poll at {stamp} holds {len(by_stamp[stamp])} of {len(fields)} fields"
            for stamp in earlier if by_stamp[stamp] != fields]


def check_log(log: str, snippet: str, servers: Dict[str, BridgeServer]) -> None:
    plugin = f"[inputs.{PLUGIN[snippet]}]"
    assert "parse error" not in log.lower(), log
    assert "kill" not in log.lower(), log
    for line in log.splitlines():
        if " E! " not in line and " W! " not in line:
            continue
        if OWN_STARTUP.search(line) or SHUTDOWN_NOISE in line:
            continue  # Telegraf about itself, not about our output
        if plugin == "[inputs.exec]" and "Collection took longer than expected" in line:
            continue  # nine Python start-ups per interval on a busy CI machine; the output is still checked
        # Anything else must be one of our own lines, relayed with our level prefix.
        assert f"{plugin} Bridge " in line, f"unexpected Telegraf log line: {line}\n{log}"
    if PLUGIN[snippet] == "execd":
        broken = servers[SIMULATED].url
        errors = [line for line in log.splitlines() if " E! " in line and broken in line]
        assert len(errors) == 1 and "HTTP 500" in errors[0], log  # reported once, not at every interval
        assert sum(" I! " in line and "is answering again" in line for line in log.splitlines()) == 1, log
        assert log.count("shut down") >= len(servers), log
