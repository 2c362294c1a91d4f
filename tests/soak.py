"""The soak: the exporter and the telegraf mode through many polls of one bridge that
cycles through every fault mode of hostile_bridge (a good answer included), with the
child's RSS, threads and open fds read from /proc at the start and at the end.

Full run (about 10 000 polls per front end; the four slow modes cost --timeout each):

    python tests/soak.py --polls 10000

CI runs a short form as tests/test_attacks_soak.py. ``--skip MODE`` (repeatable) leaves
modes out of the cycle, e.g. to measure while a known hang is not fixed yet.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hostile_bridge import HostileBridge  # noqa: E402
from waiting import wait_until  # noqa: E402

FRONTENDS = ("exporter", "telegraf")
WARMUP = 50  # polls before the start figures: imports, pools and caches are then in place


class Figures(NamedTuple):
    rss_kb: int
    threads: int
    fds: int


class SoakResult(NamedTuple):
    frontend: str
    polls: int
    seconds: float
    start: Figures
    end: Figures
    peak_rss_kb: int
    failed: int  # polls that got no answer (exporter: an HTTP error; telegraf: no batch)
    error: Optional[str]


def figures(pid: int) -> Figures:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return Figures(int(fields["VmRSS"].split()[0]), int(fields["Threads"]), len(os.listdir(f"/proc/{pid}/fd")))


def peak_rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))


def console_script() -> str:
    beside = Path(sys.executable).parent / "jitsi-metrics"
    return str(beside) if beside.is_file() else str(shutil.which("jitsi-metrics"))


def _child_env() -> Dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """wait_until, with a miss as the TimeoutError that _drive counts as a failed poll."""
    try:
        wait_until(condition, timeout, interval=0.005, what=what)
    except AssertionError as exc:
        raise TimeoutError(str(exc)) from None


def _drive(frontend: str, process: "subprocess.Popen[bytes]", poll: Callable[[], None], polls: int,
           stop_on_failure: bool) -> SoakResult:
    """``polls`` polls after WARMUP; a failed poll is counted and the soak goes on, until
    the child dies, three polls in a row fail, or (``stop_on_failure``) at the first."""
    started = time.monotonic()
    start = end = Figures(0, 0, 0)
    failed, in_a_row = 0, 0
    first_error: Optional[str] = None
    for number in range(polls + WARMUP):
        if number == WARMUP:
            start = figures(process.pid)
        try:
            poll()
            in_a_row = 0
        except (TimeoutError, OSError) as exc:
            failed += 1
            in_a_row += 1
            first_error = first_error or f"poll {number + 1}: {exc}"
            if process.poll() is not None or in_a_row >= 3 or stop_on_failure:
                died = " (child died)" if process.poll() is not None else ""
                first_error += f"; stopped at poll {number + 1}{died}"
                break
    alive = process.poll() is None
    if alive:
        end = figures(process.pid)
    return SoakResult(frontend, polls, time.monotonic() - started, start, end,
                      peak_rss(process.pid) if alive else 0, failed, first_error)


def _close(process: "subprocess.Popen[bytes]") -> None:
    for pipe in (process.stdin, process.stdout, process.stderr):
        if pipe is not None:
            try:
                pipe.close()
            except OSError:
                pass


def soak_exporter(url: str, polls: int, timeout: float, stop_on_failure: bool) -> SoakResult:
    log = subprocess.PIPE
    process = subprocess.Popen([console_script(), "serve", "--listen", "127.0.0.1:0", "--url", url,
                                "--timeout", str(timeout)], stdout=subprocess.DEVNULL, stderr=log,
                               stdin=subprocess.DEVNULL, env=_child_env())
    seen: List[str] = []

    def reader() -> None:
        for raw in iter(process.stderr.readline, b""):  # type: ignore[union-attr]
            seen.append(raw.decode("utf-8", "replace"))

    threading.Thread(target=reader, daemon=True).start()
    try:
        _wait(lambda: any("Listening on http://" in line for line in seen), 15, "start line")
        base = next(line for line in seen if "Listening on http://" in line).split("Listening on ")[1].split(";")[0]

        def poll() -> None:
            with urllib.request.urlopen(base + "/metrics", timeout=timeout + 5) as response:
                response.read()

        return _drive("exporter", process, poll, polls, stop_on_failure)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        _close(process)


def soak_telegraf(url: str, polls: int, timeout: float, stop_on_failure: bool) -> SoakResult:
    process = subprocess.Popen([console_script(), "telegraf", "--url", url, "--timeout", str(timeout)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               env=_child_env())
    batches = [0]

    def reader() -> None:
        # Each batch starts with its jitsi_up sample (one unnamed bridge, no type lines in
        # telegraf mode) and is written in one flush.
        for raw in iter(process.stdout.readline, b""):  # type: ignore[union-attr]
            if raw.startswith(b"jitsi_up "):
                batches[0] += 1

    threading.Thread(target=reader, daemon=True).start()
    asked = [0]

    def poll() -> None:
        asked[0] += 1
        process.stdin.write(b"\n")  # type: ignore[union-attr]
        process.stdin.flush()  # type: ignore[union-attr]
        _wait(lambda: batches[0] >= asked[0], timeout + 5, f"batch {asked[0]}")

    try:
        return _drive("telegraf", process, poll, polls, stop_on_failure)
    finally:
        try:
            process.stdin.close()  # type: ignore[union-attr]
            process.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()
        _close(process)


def soak(frontend: str, polls: int, timeout: float = 0.3, skip: Sequence[str] = (),
         stop_on_failure: bool = False) -> SoakResult:
    with HostileBridge() as bridge:
        bridge.cycle = [m for m in bridge.cycle if m not in skip]
        runner = soak_exporter if frontend == "exporter" else soak_telegraf
        return runner(bridge.url("cycle"), polls, timeout, stop_on_failure)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--polls", type=int, default=10_000)
    parser.add_argument("--timeout", type=float, default=0.3, help="per-poll timeout given to the front end")
    parser.add_argument("--frontend", choices=FRONTENDS, action="append")
    parser.add_argument("--skip", action="append", default=[], metavar="MODE")
    args = parser.parse_args(argv)
    print("front end | polls | seconds | RSS start→end (peak) MB | threads start→end | fds start→end "
          "| failed polls | first error")
    for frontend in args.frontend or FRONTENDS:
        r = soak(frontend, args.polls, args.timeout, args.skip)
        print(f"{r.frontend} | {r.polls} | {r.seconds:.0f} | {r.start.rss_kb / 1024:.1f}→{r.end.rss_kb / 1024:.1f} "
              f"({r.peak_rss_kb / 1024:.1f}) | {r.start.threads}→{r.end.threads} | {r.start.fds}→{r.end.fds} | "
              f"{r.failed} | {r.error or '-'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
