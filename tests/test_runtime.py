"""The polling runtime: isolation of fetch and map per bridge, single-flight, bounded
concurrency, health events, and threads that end when the runtime does."""
from __future__ import annotations

import gc
import threading
import time
import tracemalloc
from typing import Any, Dict, List, Optional, Tuple

import pytest

from jitsi_metrics import runtime as runtime_module
from jitsi_metrics.config import bridge_options
from jitsi_metrics.fetch import FetchStatusError, FetchTimeout
from jitsi_metrics.health import ERROR, NOTICE, WARNING, Event
from jitsi_metrics.runtime import PollBug, Runtime, bridge_labels
from jitsi_metrics.simulate import BridgeServer
from waiting import wait_until


class Recorder:
    """A report callback that keeps (bridge, event) pairs."""

    def __init__(self) -> None:
        self.events: List[Tuple[str, Event]] = []

    def __call__(self, bridge: str, event: Event) -> None:
        self.events.append((bridge, event))


class FakeClient:
    """A client whose fetch is a function of the test: no sockets."""

    def __init__(self, options: Any, fetch: Any) -> None:
        self.options = options
        self._fetch = fetch
        self.closed = False

    def fetch(self, timeout: Optional[float] = None) -> Dict[str, Any]:
        return self._fetch(self.options, timeout)  # type: ignore[no-any-return]

    def close(self) -> None:
        self.closed = True


def fake_runtime(count: int, fetch: Any, **kwargs: Any) -> Runtime:
    bridges = [bridge_options(f"http://b{i}.example:8080/colibri/stats", name=f"b{i}", timeout=2)
               for i in range(count)]
    return Runtime(bridges, client_factory=lambda options: FakeClient(options, fetch), **kwargs)



def pairs(result):
    """(metric name, value) of every sample of one bridge's result, in order."""
    return [(f.name, s.value) for f in result.families for s in f.samples]

def test_labels_only_for_several_or_named_bridges():
    a, b = bridge_options("http://a:1/x"), bridge_options("http://b:2/x")
    assert bridge_labels([a], named=False) == [()]
    assert bridge_labels([a], named=True) == [(("bridge", "a:1"),)]
    assert bridge_labels([a, b], named=False) == [(("bridge", "a:1"),), (("bridge", "b:2"),)]


def test_poll_results_per_bridge(bridge_server):
    with BridgeServer() as broken:
        broken.fault = "html-500"
        bridges = [bridge_options(bridge_server.url, name="ok"), bridge_options(broken.url, name="broken")]
        with Runtime(bridges) as runtime:
            results = runtime.poll()
    ok, bad = results
    assert ok.up and ok.bridge == "ok" and ok.warnings == []
    assert [f.name for f in ok.families[:2]] == ["jitsi_up", "jitsi_scrape_duration_seconds"]
    assert not bad.up and isinstance(bad.error, FetchStatusError)
    assert pairs(bad)[0] == ("jitsi_up", 0)
    combined = runtime.combined(results)
    assert sum(len(f.samples) for f in combined) == len(pairs(ok)) + 2
    assert {s.labels[0] for f in combined for s in f.samples} == {("bridge", "ok"), ("bridge", "broken")}


def test_an_unexpected_fetch_error_costs_only_its_bridge():
    def fetch(options, timeout):
        if options.name == "b1":
            raise KeyError("surprise")
        return {"conferences": 1}

    report = Recorder()
    with fake_runtime(2, fetch, report=report) as runtime:
        ok, buggy = runtime.poll()
    assert ok.up and not buggy.up and isinstance(buggy.error, PollBug)
    assert "unexpected KeyError" in str(buggy.error)
    assert [(b, e.level) for b, e in report.events] == [("b1", ERROR)]


def test_a_mapping_exception_costs_only_its_bridge(monkeypatch):
    # Before the runtime, map_payload ran outside the try: one payload that made the
    # mapping raise took down the whole poll (and `jitsi-metrics telegraf` with it).
    real = runtime_module.map_payload

    def map_payload(payload, labels=(), legacy_names=False):
        if "poison" in payload:
            raise ZeroDivisionError("a mapping bug")
        return real(payload, labels, legacy_names=legacy_names)

    monkeypatch.setattr(runtime_module, "map_payload", map_payload)
    report = Recorder()
    payloads = {"b0": {"conferences": 3}, "b1": {"conferences": 4, "poison": 1}}
    with fake_runtime(2, lambda options, timeout: payloads[options.name], report=report) as runtime:
        good, bad = runtime.poll()
    assert good.up and pairs(good)[2] == ("jitsi_conferences", 3)
    assert not bad.up and pairs(bad) == [
        ("jitsi_up", 0), ("jitsi_scrape_duration_seconds", pairs(bad)[1][1])]
    assert len(report.events) == 1
    bridge, event = report.events[0]
    assert bridge == "b1" and event.level == ERROR
    assert event.message.startswith('Bridge "b1"') and "ZeroDivisionError" in event.message
    assert "\n" not in event.message


def test_404_then_503_is_two_error_lines_then_one_recovery():
    statuses = iter([404, 404, 503, 503, None])

    def fetch(options, timeout):
        status = next(statuses)
        if status is None:
            return {"conferences": 1}
        raise FetchStatusError(options.name, options.url, f"HTTP {status}", status)

    report = Recorder()
    with fake_runtime(1, fetch, report=report) as runtime:
        for _ in range(5):
            runtime.poll()
    levels = [event.level for _, event in report.events]
    messages = [event.message for _, event in report.events]
    assert levels == [ERROR, ERROR, NOTICE], messages
    assert "HTTP 404" in messages[0] and "HTTP 503" in messages[1]
    assert report.events[2][1].message == 'Bridge "b0" is answering again'


def test_concurrency_is_bounded_by_the_limit():
    lock = threading.Lock()
    active, peak, seen = [0], [0], []

    def fetch(options, timeout):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
            seen.append(options.name)
        time.sleep(0.02)
        with lock:
            active[0] -= 1
        return {"conferences": 1}

    with fake_runtime(40, fetch, concurrency=4) as runtime:
        results = runtime.poll()
    assert sorted(seen) == sorted(f"b{i}" for i in range(40))
    assert [r.bridge for r in results] == [f"b{i}" for i in range(40)]
    assert 2 <= peak[0] <= 4


def test_concurrent_callers_share_one_poll_per_bridge():
    release, calls = threading.Event(), []

    def fetch(options, timeout):
        calls.append(timeout)
        release.wait(5)
        return {"conferences": 7}

    with fake_runtime(1, fetch) as runtime:
        results: List[Any] = []
        callers = [threading.Thread(target=lambda: results.append(runtime.poll_bridge(0))) for _ in range(6)]
        for caller in callers:
            caller.start()
        wait_until(lambda: runtime.followers(0) == 5, what="five callers waiting on the first one's poll")
        release.set()
        for caller in callers:
            caller.join(5)
    assert len(calls) == 1 and len(results) == 6
    assert all(r.up and pairs(r)[2][1] == 7 for r in results)


def test_a_follower_never_inherits_a_shorter_deadline():
    # A caller with a short budget leads; one with the full timeout joins. The leader's
    # poll times out; the follower must poll again with its own time, not share that.
    release = threading.Event()

    def fetch(options, timeout):
        if timeout < 1:
            release.wait(timeout)
            raise FetchTimeout(options.name, options.url, f"no answer within {timeout:g} s (timeout)")
        return {"conferences": 5}

    with fake_runtime(1, fetch) as runtime:
        short: List[Any] = []
        leader = threading.Thread(target=lambda: short.append(runtime.poll_bridge(0, cap=0.3)))
        leader.start()
        wait_until(lambda: 0 in runtime._flights, what="the short poll to start")
        full = runtime.poll_bridge(0)
        leader.join(5)
    assert not short[0].up
    assert full.up and pairs(full)[2][1] == 5


def test_closed_runtimes_leave_no_thread_behind(bridge_server):
    # Before, each client started a watchdog thread that never ended: three closed
    # 2-bridge pollers left 6 threads alive.
    before = {t.ident for t in threading.enumerate()}
    for _ in range(3):
        bridges = [bridge_options(bridge_server.url, name="a"), bridge_options(bridge_server.url, name="b")]
        with Runtime(bridges) as runtime:
            assert all(r.up for r in runtime.poll())
    wait_until(lambda: {t.ident for t in threading.enumerate()} <= before, what="every runtime thread to end")


def test_clients_are_closed_and_concurrency_must_be_positive():
    with fake_runtime(3, lambda o, t: {}) as runtime:
        clients = list(runtime.clients)
    assert all(c.closed for c in clients)
    with pytest.raises(ValueError):
        fake_runtime(1, lambda o, t: {}, concurrency=0)


def test_a_closed_runtime_starts_no_thread_and_reports_bridges_down(bridge_server):
    bridges = [bridge_options(bridge_server.url, name="a"), bridge_options(bridge_server.url, name="b")]
    runtime = Runtime(bridges)
    runtime.close()
    before = threading.active_count()
    results = runtime.poll()
    assert [r.up for r in results] == [False, False]
    assert threading.active_count() == before


def test_a_changing_wrong_value_is_one_warning_until_another_field_goes_wrong():
    # The warning quotes the value ("got the string '1'"); keyed on its text, a bridge
    # sending a new wrong value at each poll got a new W! line at each poll.
    polls = iter([{"conferences": "1"}, {"conferences": "2"}, {"conferences": "3"}, {"conferences": "4"},
                  {"conferences": "5", "participants": "6"}])
    recorder = Recorder()
    with fake_runtime(1, lambda options, timeout: next(polls), report=recorder) as runtime:
        for _ in range(4):
            assert runtime.poll()[0].up
        assert [e.level for _, e in recorder.events] == [WARNING]
        assert "conferences" in recorder.events[0][1].message
        runtime.poll()
    assert [e.level for _, e in recorder.events] == [WARNING, WARNING]
    assert '"participants"' in recorder.events[1][1].message


def test_every_bridge_s_time_starts_when_the_poll_does():
    # Each bridge's deadline used to start when a worker took it: 6 hanging bridges,
    # 2 workers and a 0.5 s timeout made a 1.5 s cycle.
    given: List[float] = []

    def hang(options, timeout):
        given.append(timeout)
        threading.Event().wait(timeout)
        raise FetchTimeout(options.name, options.url, f"no answer within {timeout:g} s (timeout)")

    recorder = Recorder()
    with fake_runtime(6, hang, concurrency=2, report=recorder) as runtime:
        start = time.monotonic()
        results = runtime.poll(cap=0.5)
        elapsed = time.monotonic() - start
    assert [r.error.cause for r in results] == ["timeout"] * 6  # type: ignore[union-attr]
    assert max(given) <= 0.5
    assert elapsed < 0.5 + 0.5, f"a cycle of hanging bridges took {elapsed:.2f} s"
    late = [r for r in results if "no time was left to poll it" in str(r.error)]
    assert late and all(r.families[0].samples[0].value == 0 for r in late)  # jitsi_up 0, never fetched
    assert len(given) == 6 - len(late)
    # Every bridge, late ones included, gets its one error line.
    assert sorted(b for b, e in recorder.events if e.level == ERROR) == [f"b{i}" for i in range(6)]


def test_scrape_is_one_poll_combined_and_rendered():
    polled: List[str] = []

    def fetch(options, timeout):
        polled.append(options.name)
        return {"conferences": 3}

    with fake_runtime(2, fetch) as runtime:
        prometheus = runtime.scrape(timestamp_ms=1700000000123)
        influx = runtime.scrape("influx", indexes=[1], labels=[()], timestamp_ns=1700000000123456789)
    assert [r.bridge for r in prometheus.results] == ["b0", "b1"] and sorted(polled) == ["b0", "b1", "b1"]
    assert 'jitsi_conferences{bridge="b0"} 3 1700000000123' in prometheus.text.splitlines()
    assert "# TYPE jitsi_conferences gauge" in prometheus.text
    assert [r.bridge for r in influx.results] == ["b1"]
    assert any(line.startswith("jitsi ") and "conferences=3" in line and line.endswith(" 1700000000123456789")
               for line in influx.text.splitlines()), influx.text


def test_failed_polls_keep_no_answer_alive_until_the_cyclic_gc_runs():
    # A failed poll's error outlives the poll in its PollResult. With its traceback it
    # held the poll's frames, and through them the bridge's answer (a 60 kB status line,
    # a body up to the size cap), in a reference cycle that only the cyclic GC's rare full
    # pass frees: the soak's RSS grew with every hostile answer. Run here with the GC
    # off, so what a poll leaves behind is counted, whenever the GC would have run.
    body_size = 256 * 1024

    def fetch(options, timeout):
        body = bytes(body_size)  # the answer, as a local of the frames the error passes through
        try:
            raise ValueError(f"{len(body)} bytes that are not JSON")
        except ValueError:
            raise FetchStatusError(options.name, options.url, "HTTP 503", 503) from None

    polls = 40
    with fake_runtime(1, fetch) as runtime:
        runtime.poll()  # imports, caches and the health state in place
        tracemalloc.start()
        gc.disable()
        try:
            before = tracemalloc.get_traced_memory()[0]
            results = [runtime.poll()[0] for _ in range(polls)]
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            gc.enable()
            tracemalloc.stop()
    assert all(isinstance(r.error, FetchStatusError) for r in results)
    assert "HTTP 503" in str(results[-1].error)
    assert grown < polls * body_size // 4, f"{polls} failed polls left {grown} bytes behind"


@pytest.mark.parametrize("count", [1, 2])
def test_a_poll_that_overruns_its_deadline_is_not_waited_for(count):
    # A client that ignores its timeout (a bug, or a socket read nothing cuts) used to hold
    # poll() for as long as it hung: [f.result() for f in futures] waited without bound.
    release = threading.Event()
    finished: List[str] = []

    def stuck(options, timeout):
        if options.name == "b0":
            release.wait(30)
            finished.append(options.name)
        return {"conferences": 3}

    recorder = Recorder()
    with fake_runtime(count, stuck, report=recorder) as runtime:
        start = time.monotonic()
        results = runtime.poll(cap=0.5)
        elapsed = time.monotonic() - start
        assert elapsed < 0.5 + runtime_module.FOLLOWER_GRACE + 0.5, f"poll() took {elapsed:.2f} s"
        assert results[0].error is not None and results[0].error.cause == "timeout"
        assert results[0].families[0].samples[0].value == 0  # jitsi_up 0
        assert all(r.up for r in results[1:])
        errors = [(b, e) for b, e in recorder.events if e.level == ERROR]
        assert [b for b, _ in errors] == ["b0"] and "0.5 s" in errors[0][1].message
        release.set()
        wait_until(lambda: finished, what="the stuck poll to end")
        # Its late answer is dropped (no health news for a poll nobody waited for); the
        # next poll is a new one, and it answers.
        wait_until(lambda: runtime.poll_bridge(0).up, what="a new poll of b0 to answer")
    assert [e.level for b, e in recorder.events if b == "b0"].count(ERROR) == 1


def test_poll_threads_do_not_hold_up_the_exit_of_the_process(tmp_path):
    # concurrent.futures joins its workers at exit: a poll stuck in a bridge kept a
    # stopped front end alive. The runtime's workers are daemons.
    import subprocess
    import sys

    script = tmp_path / "stuck.py"
    script.write_text(
        "import threading\n"
        "from jitsi_metrics.config import bridge_options\n"
        "from jitsi_metrics.runtime import Runtime\n"
        "class Stuck:\n"
        "    def __init__(self, options):\n"
        "        self.options = options\n"
        "    def fetch(self, timeout=None):\n"
        "        threading.Event().wait(30)\n"
        "    def close(self):\n"
        "        pass\n"
        "bridges = [bridge_options(f'http://b{i}.example/colibri/stats', timeout=0.2) for i in range(2)]\n"
        "results = Runtime(bridges, client_factory=Stuck).poll()\n"
        "print(' '.join(r.error.cause for r in results))\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["timeout", "timeout"]
