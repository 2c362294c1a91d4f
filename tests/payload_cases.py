"""Payload cases shared by the core tests: our own fixtures of every JVB era, plus the
captured payloads in tests/payloads/real. The golden case folders (tests/cases/, walked by
tests/golden.py) hold each of them with its reviewed outputs."""
from __future__ import annotations

from pathlib import Path
from typing import List

from conftest import FIXTURES, real_payload_files


def fixture_files() -> List[Path]:
    return sorted(FIXTURES.glob("*.json"))


def all_payload_files() -> List[Path]:
    return fixture_files() + real_payload_files()


def case_id(path: Path) -> str:
    return ("real:" if path.parent.name == "real" else "") + path.stem
