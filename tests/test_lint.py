"""Lint is part of the suite: ruff (pycodestyle, pyflakes, isort, bugbear) on the whole
checkout and ``mypy --strict`` on plugins/, both with the settings in pyproject.toml.

Both come with the test extra (setup.cfg); a missing one fails here rather than skipping,
since scripts/test installs them.
"""
from __future__ import annotations

import subprocess
import sys

from conftest import REPO, child_env


def run(*args: str) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True,
                          env=child_env(), timeout=600)


def test_ruff_finds_nothing() -> None:
    result = run("ruff", "check", "--no-cache", "--output-format", "concise", ".")
    assert result.returncode == 0, "ruff check:\n" + result.stdout + result.stderr


def test_mypy_strict_finds_nothing_in_plugins() -> None:
    result = run("mypy")  # files, strictness and mypy_path from pyproject.toml
    assert result.returncode == 0, "mypy:\n" + result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout
