"""Every front end against a good and a hostile bridge at once (issue 11's attack suite).

For each front end (``once`` in both formats, ``telegraf`` through its pipes, the exporter
scraped over HTTP, the plugin inside the real collectd) and each mode of
hostile_bridge.MODES, one run polls the good bridge (a real captured payload) and the
hostile one together, and the test checks what issue 11 promises:

- the poll ends within timeout + 1 s (for ``once`` and collectd, whose process start
  or read interval is part of what is measured, plus a stated allowance);
- the good bridge is complete and correct: every number and boolean of its payload,
  with the value the payload has;
- the hostile one is ``jitsi_up 0`` with nothing else (a DOWN mode), or ``jitsi_up 1``
  keeping its valid fields with their values and none of the ones it must lose;
- the output parses with independent parsers (tests/textformat.py, prometheus_client's
  parser and promtool for Prometheus text; tests/lineproto.py for line protocol, and the
  real Telegraf's influx parser for every mode's line protocol at once), all
  samples are ours (``jitsi`` measurement / ``jitsi_`` names, bridge good or hostile),
  no series appears twice;
- every stderr line is at most MAX_LOG_LINE characters, without control characters;
- the password of a URL appears nowhere;
- the child's peak RSS (VmHWM, read from /proc while it runs) stays under 100 MB.

The runs of one front end go concurrently (POOL at a time) in one module fixture, so the
whole suite stays within about three minutes; each test then only inspects its run.
"""
from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Set, Tuple

import pytest

import lineproto
import textformat
from conftest import child_env, require_tool
from hostile_bridge import DOWN, MODES, PAYLOAD_BODIES, SECRET, HostileBridge, good_payload
from jitsi_metrics.catalogue import ARRAY, BOOL, BY_KEY, IGNORE, NUMBER, STRING, unknown_metric_name
from telegraf_helpers import console_script
from test_collectd_integration import SYSTEM_PATH, collectd_config
from waiting import wait_until

TIMEOUT = 2.0
# Interpreter start of a child process on a loaded 2-core CI machine; only the front ends
# whose measured time includes it (once, collectd's read interval) get this allowance.
STARTUP_ALLOWANCE = 3.0
MAX_RSS_KB = 100 * 1024
MAX_LOG_LINE = 400
POOL = 4
CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
GOOD, HOSTILE = "good", "hostile"

# Keys of a PARTIAL mode that must not reach the output (their value cannot be a metric),
# and keys whose fate the promise leaves open (checked only by the generic checks).
MUST_DROP: Dict[str, Set[str]] = {
    "bigint-known": {"conferences"},
    "bigint-unknown": {"new_stat_from_the_future"},
}
# Modes that may also cost the whole bridge: a body that is not UTF-8 is not JSON (RFC 8259).
DOWN_ALLOWED = {"surrogate-raw"}
UNCHECKED: Dict[str, Set[str]] = {
    "influx-hostile": {""},
    "name-collisions": {"up", "scrape_duration_seconds", "version_info", "a b", "a_b"},
    "long-keys": {"k" * 5000},
    "nan-infinity": {"stress_level", "rtt_aggregate", "brand_new_gauge"},
}


class Run(NamedTuple):
    """What one front end did with one good and one hostile bridge."""

    frontend: str
    mode: str
    output: str                 # the batch (or collectd's PUTVAL lines) under test
    stderr: str
    poll_seconds: Optional[float]  # None: the poll never ended
    limit_seconds: float
    peak_rss_kb: int
    values: Dict[str, Dict[str, float]]  # bridge -> payload key -> value ("up" for jitsi_up)
    problems: List[str]         # parse errors and strays found while reading the output


# ---------------------------------------------------------------- child processes

def _vm_hwm_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0  # gone, or a zombie: no memory any more


def _reap(process: "subprocess.Popen[bytes]", grace: float) -> Tuple[int, bool]:
    """Wait up to ``grace`` seconds for the child; kill it after that. Returns its peak RSS
    in kB and whether it ended by itself.

    The peak is VmHWM, read from /proc every 20 ms while the child lives (VmHWM only
    grows). Not wait4's ru_maxrss: Linux carries the pre-exec RSS of the forked copy of
    this test process into it, so it measures pytest as much as the child."""
    deadline = time.monotonic() + grace
    ended = True
    peak = 0
    while True:
        peak = max(peak, _vm_hwm_kb(process.pid))
        if process.poll() is not None:
            return peak, ended
        if time.monotonic() > deadline and ended:
            ended = False
            process.kill()
        time.sleep(0.02)


def _bridge_args(bridge: HostileBridge, mode: str) -> List[str]:
    return ["--url", bridge.url("good"), "--name", GOOD, "--url", bridge.url(mode), "--name", HOSTILE,
            "--timeout", str(TIMEOUT)]


def _read_file(path: Path) -> str:
    # Bytes, then decode: read_text would turn a bridge's lone CR into a newline.
    return path.read_bytes().decode("utf-8", errors="backslashreplace")


def run_once(bridge: HostileBridge, mode: str, fmt: str, tmp: Path) -> Run:
    out, err = tmp / "stdout", tmp / "stderr"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        start = time.monotonic()
        process = subprocess.Popen([console_script(), "once", "--format", fmt, *_bridge_args(bridge, mode)],
                                   stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL, env=child_env())
        limit = TIMEOUT + 1 + STARTUP_ALLOWANCE
        rss, ended = _reap(process, limit)
        took = time.monotonic() - start if ended else None
    return _finish(f"once-{fmt}", mode, fmt, _read_file(out), _read_file(err), took, limit, rss)


class _Reader:
    """Collects a pipe's bytes in a thread, with the time of each arrival."""

    def __init__(self, pipe: Any) -> None:
        self.chunks: List[Tuple[float, bytes]] = []
        self._pipe = pipe
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            data = os.read(self._pipe.fileno(), 1 << 16)
            if not data:
                return
            self.chunks.append((time.monotonic(), data))

    def close(self) -> None:
        """Once the child has ended: the reader sees EOF, then the pipe is closed."""
        self._thread.join(5)
        self._pipe.close()

    def since(self, moment: float) -> List[Tuple[float, bytes]]:
        return [c for c in self.chunks if c[0] >= moment]

    def quiet_since(self, moment: float, quiet: float = 0.3) -> bool:
        got = self.since(moment)
        return bool(got) and time.monotonic() - got[-1][0] >= quiet


def _wait(condition: Any, timeout: float) -> bool:
    """Whether ``condition`` comes true within ``timeout``: a miss is a finding to record, not a failure here."""
    try:
        wait_until(condition, timeout, interval=0.02)
    except AssertionError:
        return False
    return True


def run_telegraf(bridge: HostileBridge, mode: str, tmp: Path) -> Run:
    """Two polls through the pipes, as Telegraf's execd drives it; the second is timed."""
    err = tmp / "stderr"
    fmt = "influx"
    with open(err, "wb") as stderr:
        process = subprocess.Popen([console_script(), "telegraf", "--format", fmt, *_bridge_args(bridge, mode)],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=child_env())
        assert process.stdin is not None
        reader = _Reader(process.stdout)
        limit = TIMEOUT + 1
        took: Optional[float] = None
        batch = ""
        try:
            first = time.monotonic()
            process.stdin.write(b"\n")
            process.stdin.flush()
            if _wait(lambda: reader.quiet_since(first), limit + STARTUP_ALLOWANCE):
                second = time.monotonic()
                process.stdin.write(b"\n")
                process.stdin.flush()
                if _wait(lambda: reader.since(second), limit + 1):
                    took = reader.since(second)[0][0] - second
                    _wait(lambda: reader.quiet_since(second), 2)
                    batch = b"".join(c for _, c in reader.since(second)).decode("utf-8", "backslashreplace")
            process.stdin.close()
        except OSError:
            pass  # it died: what the checks below will say
        rss, ended = _reap(process, 5)
        reader.close()
        process.stdin.close()
    log = _read_file(err) + ("" if ended else "\n(did not end within 5 s of EOF on stdin)")
    return _finish("telegraf", mode, fmt, batch, log, took if ended else None, limit, rss)


def run_exporter(bridge: HostileBridge, mode: str, tmp: Path) -> Run:
    """``jitsi-metrics serve`` on an ephemeral port, scraped twice; the second is timed."""
    err = tmp / "stderr"
    limit = TIMEOUT + 1
    took: Optional[float] = None
    text = ""
    with open(err, "wb") as stderr:
        process = subprocess.Popen([console_script(), "serve", "--listen", "127.0.0.1:0", *_bridge_args(bridge, mode)],
                                   stdout=subprocess.DEVNULL, stderr=stderr, stdin=subprocess.DEVNULL, env=child_env())
        found: List[str] = []

        def listening() -> bool:
            found[:] = re.findall(r"Listening on (http://127\.0\.0\.1:\d+)", _read_file(err))
            return bool(found)

        if _wait(listening, 10):
            url = found[0] + "/metrics"
            for attempt in range(2):
                start = time.monotonic()
                try:
                    with urllib.request.urlopen(url, timeout=limit + 1) as response:
                        body = response.read()
                except Exception as exc:  # noqa: BLE001 - any failure is recorded as such
                    text = f"scrape failed: {type(exc).__name__}: {exc}"[:300]
                    break
                if attempt:
                    took = time.monotonic() - start
                    text = body.decode("utf-8", "backslashreplace")
        process.send_signal(signal.SIGTERM)
        rss, ended = _reap(process, 5)
    log = _read_file(err) + ("" if ended else "\n(did not stop within 5 s of SIGTERM)")
    return _finish("exporter", mode, "prometheus", text, log, took if ended else None, limit, rss)


PUTVAL = re.compile(r"PUTVAL host/jitsi-(\w+)/(\w+)(?:-(\S+))? interval=\S+ ([0-9.]+):(\S+)")


def run_collectd(bridge: HostileBridge, mode: str, tmp: Path) -> Run:
    """The real collectd with the shipped snippet and two bridges, until the good one has
    been read three times; the longest gap between two reads is the timed poll."""
    require_tool("collectd")
    hostile = f'    <Bridge "{HOSTILE}">\n      URL "{bridge.url(mode)}"\n      Timeout {TIMEOUT}\n    </Bridge>\n'
    good_url = bridge.url("good", run=f"collectd-{mode}")
    good_path = good_url.split(str(bridge.port), 1)[1]
    conf = collectd_config(tmp, good_url, hostile)
    conf.write_text(conf.read_text().replace("Interval 1", "Interval 0.5"))
    snippet = tmp / "jitsi.conf"
    snippet.write_text(snippet.read_text().replace('<Bridge "meet1">', f'<Bridge "{GOOD}">')
                       .replace("# Timeout 5", f"Timeout {TIMEOUT}"))
    env = child_env(PATH=SYSTEM_PATH)
    env.pop("VIRTUAL_ENV", None)
    out, err = tmp / "stdout", tmp / "stderr"
    interval = 0.5
    limit = TIMEOUT + 1 + interval
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        process = subprocess.Popen([require_tool("collectd"), "-f", "-C", str(conf)], stdout=stdout, stderr=stderr,
                                   env=env, stdin=subprocess.DEVNULL)
        reads = lambda: bridge.request_times.get(good_path, [])  # noqa: E731
        done = _wait(lambda: len(reads()) >= 3, 3 * limit + STARTUP_ALLOWANCE)
        times = reads()
        gaps = [b - a for a, b in zip(times, times[1:])]
        process.send_signal(signal.SIGTERM)
        rss, ended = _reap(process, 10)
    took = max(gaps) if done and ended and gaps else None
    log = _read_file(err) + ("" if ended else "\n(collectd did not stop within 10 s of SIGTERM)")
    return _finish("collectd", mode, "collectd", _read_file(out), log, took, limit, rss)


# ---------------------------------------------------------------- reading the outputs

def _field_for(key: str) -> Optional[str]:
    """The metric name (Prometheus) a payload key becomes, from the catalogue."""
    metric = BY_KEY.get(key)
    if metric is None:
        return unknown_metric_name(key)
    if metric.kind in (NUMBER, BOOL):
        return metric.name
    return None


def _numeric(value: Any) -> Optional[float]:
    if type(value) is bool:
        return 1.0 if value else 0.0
    if type(value) in (int, float):
        return float(value)
    return None


def _index(name: str, value: float, bridge: Optional[str], values: Dict[str, Dict[str, float]],
           seen: Set[Any], series: Any, problems: List[str]) -> None:
    if series in seen:
        problems.append(f"duplicate series {str(series)[:200]}")
    seen.add(series)
    if bridge not in (GOOD, HOSTILE):
        problems.append(f"sample without a known bridge: {str(series)[:200]}")
        return
    values.setdefault(bridge, {})[name] = value


def _read_prometheus(text: str, problems: List[str]) -> Dict[str, Dict[str, float]]:
    values: Dict[str, Dict[str, float]] = {}
    try:
        families = textformat.parse(text)
    except Exception as exc:  # noqa: BLE001
        problems.append(f"tests/textformat.py: {type(exc).__name__}: {str(exc)[:300]}")
        return values
    from prometheus_client.parser import text_string_to_metric_families

    try:
        client_count = sum(len(f.samples) for f in text_string_to_metric_families(text))
    except Exception as exc:  # noqa: BLE001
        problems.append(f"prometheus_client parser: {type(exc).__name__}: {str(exc)[:300]}")
        client_count = -1
    seen: Set[Any] = set()
    count = 0
    for name, family in families.items():
        for sample in family.samples:
            count += 1
            if not name.startswith("jitsi_"):
                problems.append(f"stray family {name[:200]}")
            labels = dict(sample.labels)
            _index(name, sample.value, labels.get("bridge"), values, seen, (name, sample.labels), problems)
    if client_count not in (-1, count):
        problems.append(f"prometheus_client read {client_count} samples, tests/textformat.py {count}")
    return values


def _read_influx(text: str, problems: List[str]) -> Dict[str, Dict[str, float]]:
    values: Dict[str, Dict[str, float]] = {}
    try:
        points = lineproto.parse(text)
    except Exception as exc:  # noqa: BLE001
        problems.append(f"tests/lineproto.py: {type(exc).__name__}: {str(exc)[:300]}")
        return values
    seen: Set[Any] = set()
    for point in points:
        if point.measurement != "jitsi":
            problems.append(f"stray measurement {point.measurement[:200]!r}")
        tags = tuple(sorted(point.tags.items()))
        for field, value in point.fields.items():
            _index("jitsi_" + field, float(value), point.tags.get("bridge"), values, seen,
                   (tags, field), problems)
    return values


def _read_collectd(text: str, problems: List[str]) -> Dict[str, Dict[str, float]]:
    """Last value of each identifier, named as the metric its key would be, so the checks
    are shared with the other front ends. One identifier twice with one timestamp is a
    duplicate series (collectd keeps only one of them)."""
    values: Dict[str, Dict[str, float]] = {}
    seen: Set[Tuple[str, str]] = set()
    for line in text.splitlines():
        match = PUTVAL.fullmatch(line)
        if not match:
            problems.append(f"not a PUTVAL line: {line[:200]!r}")
            continue
        bridge, kind, instance, stamp, printed = match.groups(default="")
        identifier = line.split()[1]
        if (identifier, stamp) in seen:
            problems.append(f"duplicate series {identifier[:200]} at {stamp}")
        seen.add((identifier, stamp))
        if (kind, instance) == ("gauge", "up"):
            name = "jitsi_up"
        elif kind == "duration":
            name = "jitsi_scrape_duration_seconds"
        else:
            name = _field_for(instance) or instance
            if name in ("jitsi_up", "jitsi_scrape_duration_seconds"):
                name = f"{kind}-{instance}"  # a bridge key under its own identifier: no clash in collectd
        value = math.nan if printed == "nan" else float(printed)
        values.setdefault(bridge, {})[name] = value
    return values


def _finish(frontend: str, mode: str, fmt: str, output: str, stderr: str, took: Optional[float],
            limit: float, rss: int) -> Run:
    problems: List[str] = []
    reader = {"prometheus": _read_prometheus, "influx": _read_influx, "collectd": _read_collectd}[fmt]
    values = reader(output, problems)
    if fmt == "prometheus" and output:
        promtool = require_tool("promtool")
        checked = subprocess.run([promtool, "check", "metrics"], input=output.encode("utf-8", "surrogatepass"),
                                 capture_output=True, timeout=30)
        report = (checked.stdout + checked.stderr).decode("utf-8", "replace")
        if checked.returncode == 1 or "parsing error" in report:
            problems.append(f"promtool: {report[:300]}")
    return Run(frontend, mode, output, stderr, took, limit, rss, values, problems)


# ---------------------------------------------------------------- the checks

def expected_good() -> Dict[str, float]:
    """Metric name -> value, straight from the payload file (json.loads, not our code)."""
    payload = json.loads(good_payload())
    out = {}
    for key, value in payload.items():
        number = _numeric(value)
        name = _field_for(key)
        if number is not None and name is not None and BY_KEY.get(key, None) is not None:
            out[name] = number
    return out


def _hostile_expectations(mode: str) -> Tuple[Dict[str, float], Set[str]]:
    body = PAYLOAD_BODIES[mode][0]
    payload = json.loads(body.decode("utf-8", "surrogatepass"))
    keep, drop = {}, set()
    for key, value in payload.items():
        name = _field_for(key)
        if key in UNCHECKED.get(mode, set()) or name is None:
            continue
        if key in MUST_DROP.get(mode, set()):
            drop.add(name)
            continue
        metric = BY_KEY.get(key)
        if metric is not None and metric.kind in (STRING, ARRAY, IGNORE):
            continue
        number = _numeric(value)
        if number is not None:
            keep[name] = number
    return keep, drop


def same(got: float, want: float, frontend: str) -> bool:
    if math.isnan(want):
        return math.isnan(got)
    # collectd's csv prints gauges with six decimals
    tolerance = 5e-7 if frontend == "collectd" else 0.0
    return math.isclose(got, want, rel_tol=1e-12, abs_tol=tolerance)


def check_run(run: Run) -> None:
    failures: List[str] = []
    if run.poll_seconds is None:
        failures.append(f"the poll did not end within {run.limit_seconds:g} s (or the front end died or did not stop)")
    elif run.poll_seconds > run.limit_seconds:
        failures.append(f"the poll took {run.poll_seconds:.2f} s, over {run.limit_seconds:g} s")
    if run.peak_rss_kb > MAX_RSS_KB:
        failures.append(f"peak RSS {run.peak_rss_kb // 1024} MB, over {MAX_RSS_KB // 1024} MB")
    failures.extend(run.problems)
    for line in run.stderr.split("\n"):  # not splitlines: it would hide a lone CR
        if len(line) > MAX_LOG_LINE:
            failures.append(f"stderr line of {len(line)} characters: {line[:120]!r}…")
        if CONTROL.search(line):
            failures.append(f"control character in stderr line: {line[:200]!r}")
    if SECRET in run.output or SECRET in run.stderr:
        failures.append("the URL's password appears in the output or the log")

    good = run.values.get(GOOD, {})
    if not good:
        failures.append("good bridge: no samples at all")
    elif good.get("jitsi_up") != 1.0:
        failures.append(f"good bridge: jitsi_up is {good.get('jitsi_up')}, expected 1")
    for name, want in expected_good().items() if good else ():
        if name not in good:
            failures.append(f"good bridge: {name} missing")
        elif not same(good[name], want, run.frontend):
            failures.append(f"good bridge: {name} is {good[name]!r}, the payload says {want!r}")

    hostile = run.values.get(HOSTILE, {})
    if MODES[run.mode] == DOWN or (run.mode in DOWN_ALLOWED and hostile.get("jitsi_up") == 0.0):
        if hostile.get("jitsi_up") != 0.0:
            failures.append(f"hostile bridge: jitsi_up is {hostile.get('jitsi_up')}, expected 0")
        extra = sorted(set(hostile) - {"jitsi_up", "jitsi_scrape_duration_seconds"})
        if extra:
            failures.append(f"hostile bridge is down but has {extra[:5]}")
    else:
        if hostile.get("jitsi_up") != 1.0:
            failures.append(f"hostile bridge: jitsi_up is {hostile.get('jitsi_up')}, expected 1")
        duration = hostile.get("jitsi_scrape_duration_seconds", math.inf)
        if not 0 <= duration <= run.limit_seconds:
            failures.append(f"hostile bridge: jitsi_scrape_duration_seconds is {duration}")
        keep, drop = _hostile_expectations(run.mode)
        for name, want in keep.items():
            if name not in hostile:
                failures.append(f"hostile bridge: valid field {name[:80]} missing")
            elif not same(hostile[name], want, run.frontend):
                failures.append(f"hostile bridge: {name[:80]} is {hostile[name]!r}, the payload says {want!r}")
        for name in drop:
            if name in hostile:
                failures.append(f"hostile bridge: {name[:80]} should have been dropped, is {str(hostile[name])[:40]}")
    assert not failures, f"{run.frontend} vs {run.mode}:\n  " + "\n  ".join(failures[:20])


# ---------------------------------------------------------------- fixtures and tests

FRONTENDS = ("once-prometheus", "once-influx", "telegraf", "exporter", "collectd")


def _run_one(bridge: HostileBridge, frontend: str, mode: str, tmp: Path) -> Run:
    if frontend.startswith("once-"):
        return run_once(bridge, mode, frontend[5:], tmp)
    if frontend == "telegraf":
        return run_telegraf(bridge, mode, tmp)
    if frontend == "exporter":
        return run_exporter(bridge, mode, tmp)
    return run_collectd(bridge, mode, tmp)


@pytest.fixture(scope="module")
def hostile_bridge() -> Iterator[HostileBridge]:
    with HostileBridge() as bridge:
        yield bridge


_RUNS: Dict[str, Dict[str, Any]] = {}


def runs_of(frontend: str, bridge: HostileBridge, factory: pytest.TempPathFactory) -> Dict[str, Any]:
    """Every mode's run of one front end, made once, POOL at a time; a run that raised is
    kept as its exception so that only its own test fails."""
    if frontend not in _RUNS:
        if frontend == "collectd":
            require_tool("collectd")
        results: Dict[str, Any] = {}
        # Made here, not in the pool's threads: pytest's temporary folders are not thread-safe.
        folders = {mode: factory.mktemp(f"{frontend}-{mode}") for mode in MODES}

        def one(mode: str) -> None:
            try:
                results[mode] = _run_one(bridge, frontend, mode, folders[mode])
            except Exception as exc:  # noqa: BLE001
                results[mode] = exc

        with ThreadPoolExecutor(max_workers=POOL) as pool:
            list(pool.map(one, MODES))
        _RUNS[frontend] = results
        report = os.environ.get("JITSI_METRICS_ATTACK_REPORT")
        if report:  # the figures of docs/attacks.md: time to answer and peak RSS per fault
            with open(report, "a", encoding="utf-8") as out:
                for mode, run in results.items():
                    if isinstance(run, Run):
                        took = "never" if run.poll_seconds is None else f"{run.poll_seconds:.2f}"
                        out.write(f"{frontend}\t{mode}\t{took}\t{run.peak_rss_kb // 1024}\n")
    return _RUNS[frontend]


@pytest.mark.integration
@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("frontend", FRONTENDS)
def test_good_and_hostile_bridge(frontend: str, mode: str, hostile_bridge: HostileBridge,
                                 tmp_path_factory: pytest.TempPathFactory) -> None:
    result = runs_of(frontend, hostile_bridge, tmp_path_factory)[mode]
    if isinstance(result, Exception):
        raise result
    check_run(result)


@pytest.mark.parametrize("mode", ["deep-nesting"])
def test_validate_says_unreadable_in_one_short_line(mode: str, tmp_path: Path) -> None:
    """``validate`` on 100 000 nested arrays: exit 2 (its code for unreadable input), one
    short line, no traceback (issue 11 item 12)."""
    source = tmp_path / "payload.json"
    source.write_bytes(PAYLOAD_BODIES[mode][0])
    done = subprocess.run([console_script(), "validate", str(source)], capture_output=True, timeout=60,
                          env=child_env(), stdin=subprocess.DEVNULL)
    err = done.stderr.decode("utf-8", "backslashreplace")
    assert done.returncode == 2, (done.returncode, err[-300:])
    assert "Traceback" not in err
    lines = [line for line in err.split("\n") if line]
    assert len(lines) == 1 and len(lines[0]) <= MAX_LOG_LINE, lines[:3]


def _field_set(text: str, drop_tag: str = "") -> Set[Tuple[Tuple[Tuple[str, str], ...], str, str]]:
    """(tags, field, value) of every field of some line protocol; values as text of their
    number, so 5i and 5 compare equal."""
    found = set()
    for point in lineproto.parse(text):
        tags = tuple(sorted((k, v) for k, v in point.tags.items() if k != drop_tag))
        for field, value in point.fields.items():
            found.add((tags, field, repr(float(value)) if isinstance(value, (int, float)) else repr(value)))
    return found


@pytest.mark.integration
@pytest.mark.parametrize("frontend", ["once-influx", "telegraf"])
def test_line_protocol_of_every_mode_reads_the_same_in_the_real_telegraf(
        frontend: str, hostile_bridge: HostileBridge, tmp_path_factory: pytest.TempPathFactory) -> None:
    # The independent parser for line protocol is Telegraf's own: each mode's output goes
    # through one inputs.exec (which parses a whole output at once and rejects it whole on
    # a parse error), tagged with its mode, and Telegraf's output must hold the same fields.
    telegraf = require_tool("telegraf")
    runs = {mode: run for mode, run in runs_of(frontend, hostile_bridge, tmp_path_factory).items()
            if isinstance(run, Run) and run.output.strip()}
    assert len(runs) > len(MODES) // 2
    tmp = tmp_path_factory.mktemp(f"telegraf-reads-{frontend}")
    config = ["[agent]", "  omit_hostname = true", '  precision = "1ns"',
              "[[outputs.file]]", f"  files = [{json.dumps(str(tmp / 'out.influx'))}]", '  data_format = "influx"']
    for mode, run in runs.items():
        (tmp / f"{mode}.influx").write_text(run.output, encoding="utf-8")
        config += ["[[inputs.exec]]", f"  commands = [{json.dumps('cat ' + str(tmp / f'{mode}.influx'))}]",
                   '  data_format = "influx"', "  [inputs.exec.tags]", f'    attack_mode = "{mode}"']
    (tmp / "telegraf.conf").write_text("\n".join(config) + "\n", encoding="utf-8")
    done = subprocess.run([telegraf, "--config", str(tmp / "telegraf.conf"), "--once"], capture_output=True,
                          text=True, timeout=120, env=child_env())
    assert done.returncode == 0, done.stderr[-2000:]
    assert " E! " not in done.stderr, done.stderr[-2000:]
    read = (tmp / "out.influx").read_text(encoding="utf-8")
    by_mode: Dict[str, List[str]] = {}
    for line in read.splitlines():
        mode = lineproto.parse(line + "\n")[0].tags["attack_mode"]
        by_mode.setdefault(mode, []).append(line + "\n")
    assert set(by_mode) == set(runs)
    for mode, run in runs.items():
        assert _field_set("".join(by_mode[mode]), drop_tag="attack_mode") == _field_set(run.output), mode
