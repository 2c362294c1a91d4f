"""``jitsi-metrics telegraf``: the execd loop driven through pipes and StringIO, and the
real console script in a subprocess for what only a process shows (signals, flushing
with PYTHONUNBUFFERED unset, exit codes)."""
from __future__ import annotations

import contextlib
import io
import json
import os
import select
import signal
import subprocess
import threading
import time
from typing import Callable, Iterable, Iterator, List, Optional, Set, Tuple

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import REPO, child_env, load_json, real_payload_files
from golden import CASES, expected_text, mask_duration
from jitsi_metrics.cli import main
from jitsi_metrics.config import bridge_options
from jitsi_metrics.runtime import Runtime
from jitsi_metrics.telegraf import parse_duration, reporter, run
from telegraf_helpers import COMMAND_SNIPPETS, PLACEHOLDER_URL, SNIPPETS, console_script, parse_line_protocol
from waiting import wait_until

# A full payload whose reviewed outputs are in tests/cases/ (golden case folders).
SNAPSHOT_CASE = "era-jvb2-head"
SNAPSHOT = (CASES / SNAPSHOT_CASE / "payload.json").read_bytes()


class FlushRecorder(io.StringIO):
    """stdout that remembers what had been written at each flush: one entry per batch."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: List[str] = []
        self._flushed = 0

    def flush(self) -> None:
        text = self.getvalue()
        if len(text) > self._flushed:
            self.batches.append(text[self._flushed:])
            self._flushed = len(text)
        super().flush()

    @property
    def unflushed(self) -> str:
        return self.getvalue()[self._flushed:]


class ScriptedStdin:
    """stdin like Telegraf's: the next line only once the previous batch is out, each
    line first running a step (e.g. breaking the bridge); EOF after the last batch.

    Lines written while a batch runs are coalesced (as Telegraf's own shim does), so
    a test that wants one batch per line must wait for each batch like Telegraf does.
    """

    def __init__(self, steps: Iterable[Callable[[], None]], stdout: "FlushRecorder") -> None:
        self._steps = list(steps)
        self._stdout = stdout
        self._given = 0

    def readline(self) -> str:
        if self._given:
            wait_until(lambda: len(self._stdout.batches) >= self._given, 10, what=f"batch {self._given}")
        if not self._steps:
            return ""
        self._steps.pop(0)()
        self._given += 1
        return "\n"


def lines(count: int) -> Callable[["FlushRecorder"], ScriptedStdin]:
    return lambda stdout: ScriptedStdin([lambda: None] * count, stdout)


def fault(server: object, mode: Optional[str]) -> Callable[[], None]:
    return lambda: setattr(server, "fault", mode)


def run_loop(url: str, stdin: Callable[["FlushRecorder"], object], fmt: str = "prometheus",
             interval: Optional[float] = None, name: Optional[str] = None,
             clock: Callable[[], float] = time.time, type_lines: bool = False):
    stdout, stderr = FlushRecorder(), io.StringIO()
    with Runtime([bridge_options(url, name=name, timeout=2)], named=name is not None,
                 report=reporter(stderr)) as runtime:
        code = run(runtime, stdin(stdout), stdout, stderr, fmt, interval,  # type: ignore[arg-type]
                   clock=clock, type_lines=type_lines)
    return code, stdout, stderr.getvalue().splitlines()


def without_stamps(batch: str) -> Tuple[str, Set[int]]:
    """A Prometheus batch with the timestamp taken off each sample line, and the set of
    timestamps found (``# `` lines have none; a sample line without one adds ``-1``)."""
    lines, stamps = [], set()
    for line in batch.splitlines():
        if line.startswith("#"):
            lines.append(line)
            continue
        # The timestamp is the last field; a label value may hold spaces, a timestamp not.
        head, _, last = line.rpartition(" ")
        if head.count(" ") and last.isdigit():
            lines.append(head)
            stamps.add(int(last))
        else:
            lines.append(line)
            stamps.add(-1)
    return "".join(f"{line}\n" for line in lines), stamps


def sample_lines(text: str) -> str:
    """Prometheus text without its ``# HELP``/``# TYPE`` lines."""
    return "".join(f"{line}\n" for line in text.splitlines() if not line.startswith("#"))


# A poll's clock reading and the millisecond timestamp every sample line of its batch gets.
FIXED_CLOCK, FIXED_STAMP_MS = 1795879715.1239, 1795879715123


# --- durations ---------------------------------------------------------------------

@pytest.mark.parametrize("text, seconds", [
    ("10s", 10.0), ("1m", 60.0), ("500ms", 0.5), ("1h30m", 5400.0), ("1m30s", 90.0),
    ("1.5s", 1.5), ("250000us", 0.25), ("30", 30.0), ("0.25", 0.25), (" 2s ", 2.0),
])
def test_interval_accepts_telegraf_durations_and_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "0s", "0", "-1s", "10x", "1d", "s", "inf", "nan", "1e3", "10 s"])
def test_interval_rejects_what_telegraf_would_not_accept(text: str) -> None:
    with pytest.raises(ValueError, match="--interval"):
        parse_duration(text)


# --- one batch per line ------------------------------------------------------------

def test_each_line_polls_once_and_flushes_one_batch_that_matches_the_golden_case(bridge_server) -> None:
    bridge_server.payload = SNAPSHOT
    code, stdout, log = run_loop(bridge_server.url, lines(3), clock=lambda: FIXED_CLOCK)
    assert code == 0
    assert bridge_server.requests == 3
    assert len(stdout.batches) == 3 and stdout.unflushed == ""
    for batch in stdout.batches:
        # The golden samples, no # HELP/# TYPE lines (execd would parse and drop each one),
        # every sample line with the poll's one timestamp in milliseconds.
        untimed, stamps = without_stamps(batch)
        assert stamps == {FIXED_STAMP_MS}
        assert not any(line.startswith("#") for line in batch.splitlines())
        assert mask_duration(untimed, "prometheus") == sample_lines(expected_text(SNAPSHOT_CASE, "prometheus"))
        # Still valid Prometheus text, read the way a Prometheus parser reads it.
        families = {f.name: f for f in text_string_to_metric_families(batch)}
        assert families["jitsi_up"].samples[0].value == 1
        assert families["jitsi_up"].samples[0].timestamp == pytest.approx(FIXED_STAMP_MS / 1000)
    assert log == []  # a healthy bridge is not worth a log line


def test_type_lines_keeps_help_and_type_and_still_stamps_every_sample(bridge_server) -> None:
    bridge_server.payload = SNAPSHOT
    code, stdout, _ = run_loop(bridge_server.url, lines(2), clock=lambda: FIXED_CLOCK, type_lines=True)
    assert code == 0 and len(stdout.batches) == 2
    for batch in stdout.batches:
        untimed, stamps = without_stamps(batch)
        assert stamps == {FIXED_STAMP_MS}
        assert mask_duration(untimed, "prometheus") == expected_text(SNAPSHOT_CASE, "prometheus")


def test_each_batch_has_its_own_timestamp_taken_when_its_poll_starts(bridge_server) -> None:
    readings = iter([1795879700.0, 1795879710.5, 1795879721.25])
    code, stdout, _ = run_loop(bridge_server.url, lines(3), clock=lambda: next(readings))
    assert code == 0
    assert [without_stamps(b)[1] for b in stdout.batches] == [{1795879700000}, {1795879710500}, {1795879721250}]


def test_influx_batches_carry_one_timestamp_and_the_golden_values(bridge_server) -> None:
    bridge_server.payload = SNAPSHOT
    code, stdout, _ = run_loop(bridge_server.url, lines(2), fmt="influx", name="meet1")
    assert code == 0 and len(stdout.batches) == 2
    for batch in stdout.batches:
        stamps = {p.timestamp for p in parse_line_protocol(batch)}
        assert len(stamps) == 1 and None not in stamps
        # The golden case is one unnamed bridge without a timestamp: add the bridge tag (the
        # first tag in sorted order) and the batch's timestamp to each of its lines.
        stamp = stamps.pop()
        expected = "".join(f"jitsi,bridge=meet1{line[len('jitsi'):]} {stamp}\n"
                           for line in expected_text(SNAPSHOT_CASE, "influx").splitlines())
        assert mask_duration(batch, "influx") == expected


@contextlib.contextmanager
def loop_on_a_pipe(url: str, interval: Optional[float] = None) -> Iterator[Tuple[int, "FlushRecorder"]]:
    """Runs the loop in a thread reading a real pipe; yields (write end, stdout) and,
    on leaving, closes the pipe and checks the loop ended with 0."""
    read_fd, write_fd = os.pipe()
    stdin = os.fdopen(read_fd, "r")
    stdout, stderr = FlushRecorder(), io.StringIO()
    runtime = Runtime([bridge_options(url)], report=reporter(stderr))
    codes: List[int] = []
    thread = threading.Thread(target=lambda: codes.append(run(runtime, stdin, stdout, stderr, "prometheus", interval)))
    thread.start()
    try:
        yield write_fd, stdout
    finally:
        os.close(write_fd)
        thread.join(5)
        runtime.close()
        stdin.close()
    assert not thread.is_alive() and codes == [0]


def test_nothing_is_polled_until_a_line_arrives_and_eof_ends_the_loop(bridge_server) -> None:
    with loop_on_a_pipe(bridge_server.url) as (write_fd, stdout):
        time.sleep(0.3)  # a negative check: nothing may happen in this while, so there is nothing to wait for
        assert bridge_server.requests == 0 and stdout.batches == []
        os.write(write_fd, b"\n")
        wait_until(lambda: stdout.batches, 5, what="the batch of the line written")
        assert len(stdout.batches) == 1 and "jitsi_up 1" in stdout.batches[0]


def test_interval_mode_polls_on_its_own_clock_until_stdin_closes(bridge_server) -> None:
    with loop_on_a_pipe(bridge_server.url, interval=0.05) as (_, stdout):
        # No line is ever written: the batches come from the loop's own clock.
        wait_until(lambda: len(stdout.batches) >= 4, 10, what="four batches at a 0.05 s interval")
    assert all(without_stamps(b)[0].splitlines().count("jitsi_up 1") == 1 for b in stdout.batches)


# --- health: bad once, recovery once -----------------------------------------------

def test_a_failing_bridge_is_logged_when_it_goes_bad_and_when_it_recovers(bridge_server) -> None:
    steps = [fault(bridge_server, None), fault(bridge_server, "html-500"), fault(bridge_server, "html-500"),
             fault(bridge_server, "html-500"), fault(bridge_server, "not-json"), fault(bridge_server, None),
             fault(bridge_server, None)]
    code, stdout, log = run_loop(bridge_server.url, lambda out: ScriptedStdin(steps, out), name="meet1")
    assert code == 0  # a bridge that is down never ends the process
    ups = [{s.labels["bridge"]: s.value for f in text_string_to_metric_families(b) if f.name == "jitsi_up"
            for s in f.samples}["meet1"] for b in stdout.batches]
    assert ups == [1, 0, 0, 0, 0, 1, 1]
    assert all(line[:3] in ("E! ", "W! ", "I! ") for line in log)
    errors = [line for line in log if line.startswith("E! ")]
    assert len(errors) == 2  # HTTP 500 once, then the different failure (not JSON) once
    assert "meet1" in errors[0] and "HTTP 500" in errors[0] and "retrying" in errors[0]
    assert "not JSON" in errors[1]
    assert [line for line in log if "answering again" in line] == ['I! Bridge "meet1" is answering again']
    assert log.index(errors[1]) < log.index('I! Bridge "meet1" is answering again')


def test_a_bridge_that_refuses_connections_is_reported_once(bridge_server) -> None:
    url = bridge_server.url
    bridge_server.stop()  # nothing listens on the port any more
    code, stdout, log = run_loop(url, lines(4))
    assert code == 0 and len(stdout.batches) == 4
    assert all("jitsi_up 0" in without_stamps(b)[0].splitlines() for b in stdout.batches)
    errors = [line for line in log if line.startswith("E! ")]
    assert len(errors) == 1 and "cannot connect" in errors[0]


def test_dropped_fields_are_warned_about_once_not_every_poll(bridge_server) -> None:
    path = next(p for p in real_payload_files() if "legacy" in p.name)
    bridge_server.payload = path.read_bytes()
    code, stdout, log = run_loop(bridge_server.url, lines(3))
    warnings = [line for line in log if line.startswith("W! ")]
    assert code == 0 and len(stdout.batches) == 3
    assert warnings and len(warnings) == len(set(warnings))
    payload = load_json(path)
    for warning in warnings:  # each names a key of the payload and says what happens next
        assert "field skipped" in warning or "statistics disabled" in warning
        assert any(f'key "{key}"' in warning for key in payload) or "statistics disabled" in warning


# --- configuration errors ----------------------------------------------------------

@pytest.mark.parametrize("argv, mentions", [
    (["--url", "ftp://meet1/colibri/stats"], "ftp://meet1"),
    (["--url", "http://127.0.0.1:8080/colibri/stats", "--interval", "10x"], "--interval '10x'"),
    (["--url", "http://127.0.0.1:8080/colibri/stats", "--interval", "0s"], "--interval '0s'"),
    (["--url", "http://a:1/colibri/stats", "--name", "x", "--url", "http://b:1/colibri/stats", "--name", "x"], "'x'"),
    (["--url", "http://127.0.0.1:8080/colibri/stats", "--timeout", "soon"], "soon"),
    (["--url", "http://127.0.0.1:8080/colibri/stats", "--password-env", "JITSI_TEST_UNSET_VARIABLE"],
     "JITSI_TEST_UNSET_VARIABLE"),
])
def test_configuration_errors_stop_start_up_with_one_error_line(argv: List[str], mentions: str) -> None:
    stdout, stderr = io.StringIO(), io.StringIO()
    assert main(["telegraf", *argv], stdout, stderr) == 2
    lines = stderr.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("E! ") and mentions in lines[0], lines
    assert stdout.getvalue() == ""


# --- the real console script -------------------------------------------------------

def start(*args: str) -> subprocess.Popen:
    # child_env drops PYTHONUNBUFFERED: with it set a missing flush would go unnoticed.
    return subprocess.Popen([console_script(), "telegraf", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=child_env())


def read_lines(stream, count: int, timeout: float = 10.0) -> List[str]:
    """Read until ``count`` lines have arrived or the timeout passes."""
    data, deadline = b"", time.monotonic() + timeout
    while data.count(b"\n") < count and time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(stream.fileno(), 65536)
        if not chunk:
            break
        data += chunk
    return data.decode().splitlines()


def finish(proc: subprocess.Popen, timeout: float = 5.0) -> str:
    try:
        proc.wait(timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = proc.stderr.read().decode()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        stream.close()
    return log


@pytest.mark.parametrize("case", ["drift-counter-edge-values", SNAPSHOT_CASE], ids=["small", "full"])
def test_the_console_script_flushes_each_batch_without_pythonunbuffered(bridge_server, case: str) -> None:
    # The small batch is the one that proves the flush: a single write larger than
    # the 8 KiB stdout buffer goes straight through even without one.
    bridge_server.payload = (CASES / case / "payload.json").read_bytes()
    expected = sample_lines(expected_text(case, "prometheus"))
    size = expected.count("\n")
    proc = start("--url", bridge_server.url)
    for _ in range(2):
        proc.stdin.write(b"\n")
        proc.stdin.flush()
        before_ms = int(time.time() * 1000)
        lines = read_lines(proc.stdout, size)
        assert len(lines) == size, "the batch did not arrive whole: is stdout flushed?"
        untimed, stamps = without_stamps("\n".join(lines) + "\n")
        assert mask_duration(untimed, "prometheus") == expected
        # One timestamp per batch, from the wall clock of the poll (ms since the epoch).
        assert len(stamps) == 1 and before_ms - 1000 <= stamps.pop() <= time.time() * 1000
    proc.stdin.close()  # how Telegraf stops an execd plugin
    log = finish(proc)
    assert proc.returncode == 0 and "Traceback" not in log


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("mode", [[], ["--interval", "10s"]], ids=["stdin", "interval"])
def test_sigterm_and_sigint_end_it_promptly_with_status_0(bridge_server, signum: int, mode: List[str]) -> None:
    proc = start("--url", bridge_server.url, *mode)
    if not mode:
        proc.stdin.write(b"\n")
        proc.stdin.flush()
    assert any(line.startswith("jitsi_up ") for line in read_lines(proc.stdout, 5))
    sent = time.monotonic()
    proc.send_signal(signum)
    log = finish(proc)
    assert proc.returncode == 0, log
    assert time.monotonic() - sent < 5
    assert "Traceback" not in log and all(line[:3] in ("E! ", "W! ", "I! ") for line in log.splitlines())


def test_the_console_script_outlives_a_dead_bridge(bridge_server) -> None:
    url = bridge_server.url
    bridge_server.stop()
    proc = start("--url", url)
    for _ in range(3):
        proc.stdin.write(b"\n")
        proc.stdin.flush()
        # A dead bridge's batch is its two meta samples, jitsi_up first.
        untimed, _ = without_stamps("\n".join(read_lines(proc.stdout, 2)) + "\n")
        assert untimed == f"jitsi_up 0\njitsi_scrape_duration_seconds {untimed.split()[-1]}\n"
    assert proc.poll() is None
    proc.stdin.close()
    log = finish(proc)
    assert proc.returncode == 0
    assert [line[:3] for line in log.splitlines()] == ["I! ", "E! "]


def test_a_configuration_error_exits_2_with_one_error_line() -> None:
    proc = start("--url", "http://127.0.0.1:8080/colibri/stats", "--interval", "often")
    log = finish(proc)
    assert proc.returncode == 2
    assert len(log.splitlines()) == 1 and log.startswith("E! ") and "'often'" in log


# --- snippets and docs -------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(COMMAND_SNIPPETS))
def test_snippets_name_the_url_once_and_the_command_by_name(name: str) -> None:
    text = COMMAND_SNIPPETS[name].read_text(encoding="utf-8")
    assert text.count(PLACEHOLDER_URL) == 1  # the one thing users (and tests) change
    assert '"jitsi-metrics' in text
    settings = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert all(not line.startswith(" ") or line.startswith("  ") for line in settings)


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_the_docs_show_each_snippet_verbatim(name: str) -> None:
    docs = (REPO / "docs" / "telegraf.md").read_text(encoding="utf-8")
    snippet = SNIPPETS[name].read_text(encoding="utf-8")
    assert f"```toml\n{snippet}```" in docs, f"docs/telegraf.md does not show {SNIPPETS[name].name} as it is"


def test_every_snippet_is_documented_and_shipped() -> None:
    shipped = {p.name for p in (REPO / "telegraf").glob("*.conf")}
    assert shipped == {p.name for p in SNIPPETS.values()}


def test_usage_errors_are_one_telegraf_error_line(capsys):
    from jitsi_metrics.cli import main

    with pytest.raises(SystemExit) as exit:
        main(["telegraf", "--url", "http://127.0.0.1:8080/colibri/stats", "--format", "xml"])
    assert exit.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("E! jitsi-metrics telegraf: argument --format")


# --- triggers and signals never cut or multiply batches (issue 10) -----------------------

def test_newlines_queued_behind_a_slow_bridge_give_at_most_one_more_batch(bridge_server) -> None:
    # Telegraf's own execd shim keeps a buffer of one trigger; before, each of the five
    # newlines that queued up behind a slow bridge was replayed as a batch of its own.
    served = bridge_server.body

    def slow_body() -> bytes:
        time.sleep(0.3)
        return served()

    bridge_server.body = slow_body  # type: ignore[method-assign]
    with loop_on_a_pipe(bridge_server.url) as (write_fd, stdout):
        os.write(write_fd, b"\n" * 5)
        wait_until(lambda: stdout.batches, what="the first batch")
    assert 1 <= len(stdout.batches) <= 2
    assert bridge_server.requests == len(stdout.batches)


def pipe_bytes(stream) -> int:
    import fcntl
    import struct
    import termios

    return int(struct.unpack("i", fcntl.ioctl(stream.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0])


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_a_blocked_write_still_gives_whole_batches(bridge_server, signum: int) -> None:
    # The batch is far larger than the pipe, so the write blocks until we read. Before,
    # the signal handler raised inside that write and Telegraf got half a batch.
    payload = json.dumps({f"k{i:05d}": i for i in range(20000)}).encode()
    bridge_server.payload = payload
    proc = start("--url", bridge_server.url)
    try:
        proc.stdin.write(b"\n")
        proc.stdin.flush()
        wait_until(lambda: pipe_bytes(proc.stdout) >= 65536, 20, what="the pipe to fill with the batch")
        proc.send_signal(signum)
        out = proc.stdout.read().decode()  # unblocks the write; EOF once the process ends
    finally:
        log = finish(proc)
    assert proc.returncode == 0, log
    # The whole batch and nothing else: every key of the payload, as an untyped sample.
    stamps = without_stamps(out)[1]
    assert len(stamps) == 1 and -1 not in stamps  # one batch, one timestamp on every line
    got = {f.name: f.samples[0].value for f in text_string_to_metric_families(out)}
    assert got.pop("jitsi_up") == 1
    assert got.pop("jitsi_scrape_duration_seconds") >= 0
    assert got == {f"jitsi_k{i:05d}": i for i in range(20000)}
