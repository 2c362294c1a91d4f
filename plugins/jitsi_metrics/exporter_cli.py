"""Placeholder: the Prometheus exporter front end is being built (issue 6)."""
from __future__ import annotations

import argparse
from typing import Callable


def add_serve_command(add: Callable[..., argparse.ArgumentParser]) -> None:
    """Registers ``jitsi-metrics serve``; ``add(name, help, examples)`` returns its parser."""


def main() -> int:
    raise SystemExit("not built yet")
