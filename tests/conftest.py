"""Fixtures shared by every test module.

Real host programs (promtool, Telegraf, collectd, Prometheus) are found with
``require_tool``: locally a missing one skips the test with the reason; under CI=true
it fails, because CI installs them all (.ci/run).
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional

import pytest

REPO = Path(__file__).resolve().parent.parent
# Captured public payloads, copied into the repo with their source notes (tests/payloads/README.md).
PAYLOADS = Path(__file__).resolve().parent / "payloads"
SHARED_PAYLOADS = PAYLOADS / "real"
SEED_OUTPUT = PAYLOADS / "seed-exporter-output"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
IN_CI = os.environ.get("CI", "").lower() == "true"
TOOLS_DIR = Path(os.environ.get("JITSI_METRICS_TOOLS", Path.home() / ".cache" / "jitsi-meet-metrics" / "bin"))
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

sys.path.insert(0, str(Path(__file__).resolve().parent))

if TYPE_CHECKING:
    from jitsi_metrics.exporter import Exporter
    from jitsi_metrics.simulate import BridgeServer


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens", action="store_true", default=False,
        help="rewrite the expected files of tests/cases/ from what the program prints today "
             "(then review the diff by hand; see tests/cases/README.md)",
    )


def missing(reason: str) -> None:
    """Skip locally, fail loudly in CI."""
    if IN_CI:
        pytest.fail(f"CI=true but {reason}; .ci/run should have installed it")
    pytest.skip(reason)


def require_tool(name: str) -> str:
    """Path of a host program: $JITSI_METRICS_TOOLS (the Telegraf build cache) first, then PATH."""
    cached = TOOLS_DIR / name
    if cached.is_file() and os.access(cached, os.X_OK):
        return str(cached)
    found = shutil.which(name, path=os.environ.get("PATH", "") + os.pathsep + SYSTEM_PATH)
    if found is None:
        missing(f"{name} is not installed (looked in {TOOLS_DIR} and PATH)")
    return str(found)


def child_env(**extra: str) -> Dict[str, str]:
    """Environment for a child process: no PYTHON* variables, since PYTHONUNBUFFERED
    would hide a missing flush and PYTHONPATH/PYTHONHOME would confuse collectd."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(extra)
    return env


def real_payload_files() -> List[Path]:
    """The captured real payloads; they are part of the repository, so none is an error."""
    files = sorted(SHARED_PAYLOADS.glob("*.json"))
    if not files:
        raise FileNotFoundError(f"no payloads in {SHARED_PAYLOADS}; they belong to the repository")
    return files


@pytest.fixture
def shared_payloads() -> List[Path]:
    """The captured real payloads in tests/payloads/real."""
    return real_payload_files()


def load_json(path: Path) -> Dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)  # type: ignore[no-any-return]


@contextmanager
def serving(payload: Optional[bytes] = None, **kwargs: Any) -> Iterator["BridgeServer"]:
    """A simulated bridge on 127.0.0.1 for the ``with`` block: ``payload`` bytes served as they
    are, or (None) the simulation; set ``.payload`` or ``.fault`` to steer it meanwhile."""
    from jitsi_metrics.simulate import BridgeServer

    with BridgeServer(payload=payload, **kwargs) as server:
        yield server


@contextmanager
def running_exporter(bridges: List[Any], **kwargs: Any) -> Iterator["Exporter"]:
    """An Exporter (jitsi_metrics.exporter) serving on 127.0.0.1 for the ``with`` block."""
    from jitsi_metrics.exporter import Exporter

    with Exporter(bridges, **kwargs) as exporter:
        yield exporter


@pytest.fixture
def raw_bridges() -> Iterator[Callable[..., Any]]:
    """Makes raw_bridge.RawBridge servers (its keyword arguments) and closes them after the test."""
    from raw_bridge import RawBridge

    made: List[RawBridge] = []

    def make(**kwargs: Any) -> RawBridge:
        made.append(RawBridge(**kwargs))
        return made[-1]

    yield make
    for bridge in made:
        bridge.close()


@pytest.fixture
def bridge_server() -> Iterator["BridgeServer"]:
    """A simulated bridge on 127.0.0.1; set ``.payload`` (bytes) or ``.fault`` to steer it."""
    with serving() as server:
        yield server


@pytest.fixture
def server_of() -> Iterator[Callable[..., "BridgeServer"]]:
    """Starts simulated bridges with BridgeServer's options (``rest_enabled=False``,
    ``component="jicofo"``, ...) for one test; all are stopped after it."""
    from jitsi_metrics.simulate import BridgeServer

    with ExitStack() as stack:
        yield lambda **kwargs: stack.enter_context(BridgeServer(**kwargs))
