"""``jitsi-metrics telegraf``: the long-running process behind Telegraf's ``inputs.execd``.

Telegraf writes a newline to our stdin every interval (``signal = "STDIN"``); each one
polls every bridge once, concurrently, and writes one batch to stdout, flushed at once.
``--interval`` polls on our own clock instead (``signal = "none"``). Telegraf stops us
by closing stdin, so EOF is a clean exit, as are SIGTERM and SIGINT. A bridge that is
down never ends the process (Telegraf would restart it in a loop): it shows as
``jitsi_up 0`` and is logged once when it goes bad and once when it recovers, with the
``E! ``/``W! ``/``I! `` prefixes Telegraf (1.32 and later) maps to its own log levels.
"""
from __future__ import annotations

import argparse
import math
import os
import re
import signal
import sys
import threading
import time
from typing import IO, Any, Callable, Dict, List, Optional

from .bridge_args import add_bridge_arguments, bridges_from_args
from .config import ConfigError
from .health import ERROR, INFO, WARNING, BridgeHealth
from .poll import Poller, all_families
from .render import FORMATS, render
PREFIXES = {ERROR: "E! ", WARNING: "W! ", INFO: "I! "}
CONFIG_ERROR = 2

# Go's time.ParseDuration units, which Telegraf's own durations use ("10s", "1m30s", "500ms").
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)"


class _Stop(Exception):
    """Raised by the SIGTERM/SIGINT handler to unwind the loop from wherever it waits."""


def parse_duration(text: str, option: str = "--interval") -> float:
    """Seconds from a Telegraf-style duration ("10s", "1m", "500ms", "1h30m") or plain seconds."""
    value = text.strip()
    if re.fullmatch(r"\d+(?:\.\d*)?|\.\d+", value):
        seconds = float(value)
    elif re.fullmatch(f"(?:{_PART})+", value):
        seconds = sum(float(n) * _UNITS[u] for n, u in re.findall(_PART, value))
    else:
        raise ConfigError(f"{option} {text!r} is not a duration like 10s, 1m, 500ms or a number of seconds")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(f"{option} {text!r} must be longer than zero")
    return seconds


def log(stderr: IO[str], level: str, line: str) -> None:
    stderr.write(PREFIXES[level] + line + "\n")
    stderr.flush()


def run(poller: Poller, stdin: IO[str], stdout: IO[str], stderr: IO[str], fmt: str = "prometheus",
        interval: Optional[float] = None, clock: Callable[[], float] = time.time) -> int:
    """Poll at each line on ``stdin`` (or every ``interval`` seconds) until stdin closes.

    Returns 0 on EOF, on SIGTERM/SIGINT (when ``cmd_telegraf`` installed the handlers)
    and when Telegraf stops reading stdout: each is a normal end for an execd plugin.
    """
    healths: Dict[str, BridgeHealth] = {b.name: BridgeHealth(b.name) for b in poller.bridges}

    def batch() -> None:
        stamp = clock()  # one timestamp per batch, taken before any fetch
        results = poller.poll()
        for result in results:
            for level, line in healths[result.bridge].update(result):
                log(stderr, level, line)
        stdout.write(render(all_families(results), fmt, int(stamp * 1e9)))
        # Telegraf reads a pipe: without the flush the batch sits in our buffer.
        stdout.flush()

    try:
        if interval is None:
            for _line in iter(stdin.readline, ""):
                batch()
        else:
            closed = threading.Event()
            threading.Thread(target=_wait_for_eof, args=(stdin, closed), name="jitsi-stdin", daemon=True).start()
            due = time.monotonic()
            while not closed.is_set():
                batch()
                # A poll slower than the interval skips ticks instead of bunching them.
                due = max(due + interval, time.monotonic())
                closed.wait(due - time.monotonic())
    except (_Stop, KeyboardInterrupt):
        pass
    except BrokenPipeError:
        _silence(stdout)  # Telegraf is gone; nobody is left to tell
    return 0


def _wait_for_eof(stdin: IO[str], closed: threading.Event) -> None:
    """With --interval stdin carries no triggers, but its EOF still means "stop"."""
    try:
        while stdin.readline():
            pass
    except (OSError, ValueError):
        pass
    closed.set()


def _silence(stream: IO[str]) -> None:
    """Point a broken stdout at /dev/null so the flush at interpreter exit stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def cmd_telegraf(args: argparse.Namespace, stdout: IO[str], stderr: IO[str], stdin: Optional[IO[str]] = None) -> int:
    try:
        interval = parse_duration(args.interval) if args.interval is not None else None
        bridges = bridges_from_args(args, os.environ)
    except ConfigError as exc:
        # Telegraf restarts us after restart_delay; a bad command line will not heal.
        log(stderr, ERROR, f"jitsi-metrics telegraf: {exc}; exiting with status {CONFIG_ERROR}")
        return CONFIG_ERROR
    trigger = f"every {args.interval}" if interval is not None else "at each line on stdin"
    names = ", ".join(b.name for b in bridges)
    log(stderr, INFO, f"Polling {len(bridges)} bridge(s) ({names}) {trigger}; format {args.format}")
    previous = _install_stop_handlers()
    try:
        with Poller(bridges, named=bool(args.name)) as poller:
            return run(poller, stdin if stdin is not None else sys.stdin, stdout, stderr, args.format, interval)
    except (_Stop, KeyboardInterrupt):  # a signal that arrived outside run()
        return 0
    finally:
        _restore(previous)


def _install_stop_handlers() -> Dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}

    def on_signal(signum: int, frame: object) -> None:
        raise _Stop(signum)

    return {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}


def _restore(previous: Dict[int, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def add_command(add: Callable[..., argparse.ArgumentParser]) -> None:
    """Registers the subcommand; ``add(name, help, examples)`` returns its parser."""
    parser = add("telegraf", "Run under Telegraf's inputs.execd: one batch of metrics per line on stdin.", """
        jitsi-metrics telegraf --url http://127.0.0.1:8080/colibri/stats
        jitsi-metrics telegraf --url http://meet1:8080/colibri/stats --url http://meet2:8080/colibri/stats --format influx
        jitsi-metrics telegraf --url http://127.0.0.1:8080/colibri/stats --interval 30s   # signal = "none"
    """)
    add_bridge_arguments(parser)
    parser.add_argument("--format", choices=FORMATS, default="prometheus",
                        help="prometheus (data_format = \"prometheus\") or influx line protocol (default: %(default)s)")
    parser.add_argument("--interval", metavar="DURATION",
                        help="poll on our own clock (10s, 1m, 500ms or seconds) for signal = \"none\"; "
                             "default: poll at each line Telegraf writes to stdin")
    parser.set_defaults(func=cmd_telegraf)

    def usage_error(message: str) -> None:
        # argparse would print a bare usage block, which Telegraf logs as several
        # unprefixed error lines; one E! line says the same.
        log(sys.stderr, ERROR, f"jitsi-metrics telegraf: {message}; exiting with status {CONFIG_ERROR}")
        sys.exit(CONFIG_ERROR)

    parser.error = usage_error  # type: ignore[method-assign]


__all__: List[str] = ["add_command", "cmd_telegraf", "parse_duration", "run"]
