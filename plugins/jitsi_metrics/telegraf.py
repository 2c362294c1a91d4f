"""``jitsi-metrics telegraf``: the long-running process behind Telegraf's ``inputs.execd``.

Telegraf writes a newline to our stdin every interval (``signal = "STDIN"``); each one
polls every bridge once, concurrently, and writes one batch to stdout, flushed at once.
Lines that arrive while a poll runs count as one (Telegraf's own execd shim keeps a
buffer of one trigger too), so a slow bridge never causes a burst of batches.
``--interval`` polls on our own clock instead (``signal = "none"``). Telegraf stops us
by closing stdin, so EOF is a clean exit, as are SIGTERM and SIGINT (after the batch
being written, never in the middle of it). A bridge that is
down never ends the process (Telegraf would restart it in a loop): it shows as
``jitsi_up 0`` and is logged once when it goes bad and once when it recovers, with the
``E! ``/``W! ``/``I! `` prefixes Telegraf (1.32 and later) maps to its own log levels.

Every line of a batch carries the batch's one timestamp, so one poll lands in Telegraf
as one instant: line protocol's nanoseconds, or the Prometheus text's optional
milliseconds, which Telegraf's prometheus parser uses in place of its parse time. The
Prometheus batch leaves out ``# HELP``/``# TYPE`` (``--type-lines`` keeps them): execd
parses one line at a time, so they never reach a sample and would only cost Telegraf
a parse each.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from typing import IO, Callable, List, Optional

from .bridge_args import add_bridge_arguments, bridges_from_args
from .config import ConfigError, parse_duration
from .health import ERROR, NOTICE, WARNING
from .logtext import MAX_LINE, loggable
from .render import FORMATS
from .runtime import Report, Runtime
from .stop import StopSignals, Trigger, Wakeup

LEVEL_PREFIXES = {ERROR: "E! ", WARNING: "W! ", NOTICE: "I! "}
CONFIG_ERROR = 2

def log(stderr: IO[str], level: str, line: str) -> None:
    stderr.write(LEVEL_PREFIXES[level] + loggable(line, MAX_LINE) + "\n")
    stderr.flush()


def reporter(stderr: IO[str]) -> Report:
    """The runtime's health events as Telegraf log lines."""
    return lambda bridge, event: log(stderr, event.level, event.message)


def run(runtime: Runtime, stdin: IO[str], stdout: IO[str], stderr: IO[str], fmt: str = "prometheus",
        interval: Optional[float] = None, clock: Callable[[], float] = time.time,
        stop: Optional[StopSignals] = None, type_lines: bool = False) -> int:
    """Poll at each line on ``stdin`` (or every ``interval`` seconds) until stdin closes
    or ``stop`` is requested; a batch in progress is always written whole.
    ``type_lines`` keeps the ``# HELP``/``# TYPE`` lines of the Prometheus format.

    Returns 0 on EOF, on SIGTERM/SIGINT and when Telegraf stops reading stdout: each is
    a normal end for an execd plugin.
    """
    wakeup = stop.wakeup if stop is not None else Wakeup()
    trigger = Trigger(wakeup)
    reader = threading.Thread(target=_read_triggers, args=(stdin, trigger, interval is None),
                              name="jitsi-stdin", daemon=True)
    reader.start()
    due = time.monotonic()
    try:
        while not (stop is not None and stop.requested):
            if interval is None and trigger.take():
                _batch(runtime, stdout, fmt, clock, type_lines)
            elif trigger.closed:
                break
            elif interval is not None and time.monotonic() >= due:
                _batch(runtime, stdout, fmt, clock, type_lines)
                # A poll slower than the interval skips ticks instead of bunching them.
                due = max(due + interval, time.monotonic())
            else:
                wakeup.wait(None if interval is None else due - time.monotonic())
    except BrokenPipeError:
        _silence(stdout)  # Telegraf is gone; nobody is left to tell
    finally:
        if stop is None:
            wakeup.close()
    return 0


def _batch(runtime: Runtime, stdout: IO[str], fmt: str, clock: Callable[[], float], type_lines: bool) -> None:
    stamp = clock()  # one timestamp per batch, taken before any fetch
    stdout.write(runtime.scrape(fmt, timestamp_ms=int(stamp * 1e3), timestamp_ns=int(stamp * 1e9),
                                headers=type_lines).text)
    # Telegraf reads a pipe: without the flush the batch sits in our buffer.
    stdout.flush()


def _read_triggers(stdin: IO[str], trigger: Trigger, lines_trigger: bool) -> None:
    """Each line is a trigger (with --interval, lines are ignored); EOF means stop."""
    try:
        while stdin.readline():
            if lines_trigger:
                trigger.pull()
    except (OSError, ValueError):
        pass
    trigger.close()


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
    log(stderr, NOTICE, f"Polling {len(bridges)} bridge(s) ({names}) {trigger}; format {args.format}")
    wakeup = Wakeup()
    try:
        with StopSignals(wakeup) as stop, Runtime(bridges, named=bool(args.name), report=reporter(stderr),
                                                  concurrency=args.concurrency) as runtime:
            return run(runtime, stdin if stdin is not None else sys.stdin, stdout, stderr, args.format,
                       interval, stop=stop, type_lines=args.type_lines)
    finally:
        wakeup.close()


def add_command(add: Callable[..., argparse.ArgumentParser]) -> None:
    """Registers the subcommand; ``add(name, help, examples)`` returns its parser."""
    parser = add("telegraf", "Run under Telegraf's inputs.execd: one batch of metrics per line on stdin.", """
        jitsi-metrics telegraf --url http://127.0.0.1:8080/colibri/stats
        jitsi-metrics telegraf --format influx \\
                               --url http://meet1:8080/colibri/stats --url http://meet2:8080/colibri/stats
        jitsi-metrics telegraf --url http://127.0.0.1:8080/colibri/stats --interval 30s   # signal = "none"
    """)
    add_bridge_arguments(parser)
    parser.add_argument("--format", choices=FORMATS, default="prometheus",
                        help="prometheus (data_format = \"prometheus\") or influx line protocol (default: %(default)s)")
    parser.add_argument("--type-lines", action="store_true",
                        help="keep the # HELP and # TYPE lines of the prometheus format; execd parses one line "
                             "at a time and never applies them, so by default they are not sent")
    parser.add_argument("--interval", metavar="DURATION",
                        help="poll on our own clock (10s, 1m, 500ms or seconds) for signal = \"none\"; "
                             "default: poll at each line Telegraf writes to stdin")
    parser.set_defaults(func=cmd_telegraf)

    def usage_error(message: str) -> None:
        # argparse would print a bare usage block, which Telegraf logs as several
        # unprefixed error lines; one E! line says the same.
        log(sys.stderr, ERROR, f"jitsi-metrics telegraf: {message}; exiting with status {CONFIG_ERROR}")
        sys.exit(CONFIG_ERROR)

    parser.error = usage_error  # type: ignore[method-assign,assignment]


__all__: List[str] = ["add_command", "cmd_telegraf", "parse_duration", "reporter", "run"]
