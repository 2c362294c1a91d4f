"""``jitsi-metrics telegraf``: the long-running process for Telegraf's inputs.execd.

Placeholder: the Telegraf front end is being built (issue 4).
"""
from __future__ import annotations

import argparse
from typing import Callable


def add_command(add: Callable[..., argparse.ArgumentParser]) -> None:
    """Registers the subcommand; ``add(name, help, examples)`` returns its parser."""
