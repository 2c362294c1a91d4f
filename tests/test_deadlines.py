"""One poll, one deadline: a bridge that trickles or hangs on every path of a base URL
costs one timeout, in discovery, in every front end and in ``check``.

A reviewer found a base URL whose every path answered 200 with a long Content-Length and
then one byte at a time blocking ``once``, ``serve``, ``telegraf`` and ``check`` without
end: a socket timeout bounds each read, not the request, and discovery asked up
to four paths each with the whole budget.

Child processes start a Python interpreter, which on a loaded machine takes a while;
their bounds are measured against a run of the same command on a good bridge, side by
side, not against a fixed figure.
"""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from typing import Any, Iterator, List, Tuple

import pytest

from conftest import child_env
from hostile_bridge import HostileBridge
from jitsi_metrics import probe
from jitsi_metrics.config import bridge_options
from jitsi_metrics.fetch import FetchTimeout
from jitsi_metrics.runtime import Runtime
from jitsi_metrics.source_client import SourceClient
from telegraf_helpers import console_script
from waiting import wait_until

TIMEOUT = 1.0
SLACK = 1.0  # what the brief allows past the timeout
NAME = "slowpoke"


@pytest.fixture(scope="module")
def trickling() -> Iterator[HostileBridge]:
    with HostileBridge(every_path="trickle") as bridge:
        yield bridge


@pytest.fixture(scope="module")
def hanging() -> Iterator[HostileBridge]:
    with HostileBridge(every_path="hang") as bridge:
        yield bridge


@pytest.fixture(scope="module")
def good() -> Iterator[HostileBridge]:
    with HostileBridge() as bridge:
        yield bridge


def _timed(args: List[str]) -> Tuple[float, "subprocess.CompletedProcess[str]"]:
    start = time.monotonic()
    done = subprocess.run([console_script(), *args], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, env=child_env())
    return time.monotonic() - start, done


# -- in process -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["trickle", "hang"])
def test_discovery_of_a_slow_base_url_costs_one_timeout(mode, trickling, hanging):
    bridge = trickling if mode == "trickle" else hanging
    start = time.monotonic()
    with pytest.raises(probe.ProbeError) as raised:
        probe.discover(bridge.base_url, bridge_options(bridge.base_url, timeout=TIMEOUT))
    elapsed = time.monotonic() - start
    assert raised.value.kind == probe.TIMEOUT
    assert raised.value.reason.startswith("/about/version: ")  # what it was waiting for
    # Before: each of /about/version and the paths after it had the whole budget.
    assert elapsed < TIMEOUT + 0.5, f"discovery took {elapsed:.2f} s"


def test_one_get_is_bounded_as_a_whole_not_per_read(trickling):
    url = probe.with_path(trickling.base_url, "/colibri/stats")
    start = time.monotonic()
    with pytest.raises(probe.ProbeError) as raised:
        probe.get(url, bridge_options(url, timeout=TIMEOUT))
    assert raised.value.kind == probe.TIMEOUT and "/colibri/stats" in raised.value.reason
    assert time.monotonic() - start < TIMEOUT + 0.5


def test_source_client_of_a_trickling_base_url_times_out_naming_the_bridge(trickling):
    options = bridge_options(trickling.base_url, name=NAME, timeout=5)
    client = SourceClient(options)
    try:
        start = time.monotonic()
        with pytest.raises(FetchTimeout) as raised:
            client.fetch(TIMEOUT)
        elapsed = time.monotonic() - start
    finally:
        client.close()
    text = str(raised.value)
    assert f'"{NAME}"' in text and "/about/version" in text and f"within {TIMEOUT:g} s" in text
    assert elapsed < TIMEOUT + 0.5, f"the poll took {elapsed:.2f} s"


def test_a_hanging_base_url_costs_one_timeout_not_two(hanging):
    timeout = 2.0
    options = bridge_options(hanging.base_url, name=NAME, timeout=timeout)
    with Runtime([options]) as runtime:
        start = time.monotonic()
        result = runtime.poll()[0]
        elapsed = time.monotonic() - start
    assert result.error is not None and result.error.cause == "timeout"
    assert result.families[0].name == "jitsi_up" and result.families[0].samples[0].value == 0
    assert elapsed < 1.5 * timeout, f"a hanging bridge cost {elapsed:.2f} s for a {timeout:g} s timeout"


# -- the front ends ---------------------------------------------------------------------


def test_once_with_a_trickling_base_url_ends_in_time(trickling, good):
    baseline, _ = _timed(["once", "--url", good.url("good"), "--timeout", str(TIMEOUT)])
    elapsed, done = _timed(["once", "--url", good.url("good"), "--name", "good", "--url", trickling.base_url,
                            "--name", NAME, "--timeout", str(TIMEOUT)])
    assert done.returncode == 0, done.stderr
    assert f'jitsi_up{{bridge="{NAME}"}} 0' in done.stdout.splitlines()
    assert 'jitsi_up{bridge="good"} 1' in done.stdout.splitlines()
    lines = [line for line in done.stderr.splitlines() if NAME in line]
    assert len(lines) == 1 and "timeout" in lines[0], done.stderr
    assert elapsed - baseline < TIMEOUT + SLACK, f"once took {elapsed:.2f} s, {baseline:.2f} s on a good bridge"


def test_check_ends_within_the_timeout_per_url(trickling, hanging, good):
    baseline, _ = _timed(["check", good.url("good"), "--timeout", str(TIMEOUT)])
    elapsed, done = _timed(["check", trickling.base_url, hanging.base_url, "--timeout", str(TIMEOUT)])
    assert done.returncode == 1
    assert done.stdout.count("not reachable: no answer within 1 s (/about/version") == 2, done.stdout
    assert elapsed - baseline < 2 * (TIMEOUT + SLACK), f"check took {elapsed:.2f} s, {baseline:.2f} s on one good URL"


class _Lines:
    """A child's stdout, read in a thread: the time each line arrived."""

    def __init__(self, pipe: Any) -> None:
        self.lines: List[Tuple[float, bytes]] = []
        self._pipe = pipe
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for line in self._pipe:
            self.lines.append((time.monotonic(), line))

    def since(self, moment: float) -> List[bytes]:
        return [line for at, line in self.lines if at >= moment]


def test_telegraf_mode_answers_each_line_in_time_and_stops_on_sigterm(trickling):
    process = subprocess.Popen([console_script(), "telegraf", "--format", "influx", "--url", trickling.base_url,
                                "--name", NAME, "--timeout", str(TIMEOUT)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env())
    assert process.stdin is not None
    try:
        lines = _Lines(process.stdout)
        # The first batch also waits for the interpreter to start.
        process.stdin.write(b"\n")
        process.stdin.flush()
        wait_until(lambda: lines.lines, timeout=30, what="the first batch")
        for _ in range(2):
            asked = time.monotonic()
            process.stdin.write(b"\n")
            process.stdin.flush()
            got = wait_until(lambda asked=asked: lines.since(asked), timeout=TIMEOUT + SLACK,
                             what="a batch within the timeout of a line on stdin")
            assert any(line.startswith(f"jitsi,bridge={NAME} up=0i,".encode()) for line in got), got
        # Stopped in the middle of a poll of the trickling bridge: the case that hung.
        asked_before = trickling.requests.get("trickle", 0)
        process.stdin.write(b"\n")
        process.stdin.flush()
        wait_until(lambda: trickling.requests.get("trickle", 0) > asked_before, what="the poll to start")
        process.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        wait_until(lambda: process.poll() is not None, timeout=5, what="the end of the process after SIGTERM")
        assert time.monotonic() - stopped < 5
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        for pipe in (process.stdin, process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()
