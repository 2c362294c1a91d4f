"""The Python distributions are complete: the wheel carries the snippets, dashboard and
schema (a pip user needs no checkout), the sdist carries the whole test suite.

Both are built once with ``python -m build --no-isolation`` (the wheel from the sdist,
so the sdist must also hold everything the build needs).
"""
from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Dict, Iterator, Set

import pytest

from conftest import REPO, child_env, missing, require_tool

pytestmark = pytest.mark.integration

SHIPPED_FOLDERS = ("telegraf", "collectd", "dashboards", "prometheus")
SHIPPED_SUFFIXES = (".conf", ".json", ".yml", ".yaml")
PUTVAL = re.compile(r"^PUTVAL (\S+) interval=\S+ \S+:(\S+)$", re.M)


def shipped_files() -> Dict[str, bytes]:
    files = {}
    for folder in SHIPPED_FOLDERS:
        for path in sorted((REPO / folder).rglob("*")) if (REPO / folder).is_dir() else []:
            if path.is_file() and path.suffix in SHIPPED_SUFFIXES:
                files[str(path.relative_to(REPO))] = path.read_bytes()
    return files


def files_under_tests(root: Path) -> Set[str]:
    return {str(p.relative_to(root)) for p in (root / "tests").rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and ".pytest_cache" not in p.parts}


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Path]]:
    probe = subprocess.run([sys.executable, "-c", "import build, wheel, setuptools"], capture_output=True)
    if probe.returncode != 0:
        missing("python -m build and wheel (the test extra installs them)")
    out_dir = tmp_path_factory.mktemp("dist")
    out = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out_dir), str(REPO)],
                         capture_output=True, text=True, env=child_env(), timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    (sdist,) = out_dir.glob("*.tar.gz")
    (wheel,) = out_dir.glob("*.whl")
    unpacked = tmp_path_factory.mktemp("sdist")
    with tarfile.open(sdist) as archive:
        if hasattr(tarfile, "data_filter"):  # Python 3.12 warns without a filter; 3.9 has none
            archive.extractall(unpacked, filter="data")
        else:
            archive.extractall(unpacked)
    (root,) = unpacked.iterdir()
    yield {"sdist": sdist, "wheel": wheel, "root": root}


def test_wheel_carries_snippets_dashboard_and_schema(dists: Dict[str, Path]) -> None:
    with zipfile.ZipFile(dists["wheel"]) as wheel:
        names = set(wheel.namelist())
        for relative, content in shipped_files().items():
            assert wheel.read(f"jitsi_metrics/shipped/{relative}") == content, relative
        assert "jitsi_metrics/schema/colibri-stats.schema.json" in names
    expected = {"collectd/jitsi.conf", "dashboards/jitsi-meet.json", "prometheus/rules/jitsi.rules.yml"}
    assert expected <= set(shipped_files())


def test_sdist_holds_every_test_file_and_the_suite_collects(dists: Dict[str, Path]) -> None:
    root = dists["root"]
    assert files_under_tests(root) == files_under_tests(REPO)
    for relative in ["setup.py", "setup.cfg", "pyproject.toml", "README.md", "LICENSE", "scripts/build-deb",
                     "debian/rules", *shipped_files()]:
        assert (root / relative).is_file(), relative

    def collect(where: Path) -> str:
        out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
                             cwd=where, capture_output=True, text=True, timeout=300,
                             env=child_env(PYTHONPATH=str(where / "plugins")))
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        return out.stdout.strip().splitlines()[-1]

    from_sdist = collect(root)
    assert "error" not in from_sdist and re.fullmatch(r"\d+ tests? collected in .*", from_sdist), from_sdist
    assert from_sdist.split(" in ")[0] == collect(REPO).split(" in ")[0]


def test_pip_target_install_of_the_wheel_works_for_the_cli_and_collectd(dists: Dict[str, Path],
                                                                        tmp_path: Path, bridge_server) -> None:
    # The documented collectd route without the Debian package: pip install --no-deps --target DIR.
    target = tmp_path / "lib"
    out = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                          "--disable-pip-version-check", "--target", str(target), str(dists["wheel"])],
                         capture_output=True, text=True, env=child_env(), timeout=300)
    assert out.returncode == 0, out.stderr
    command = [str(target / "bin" / "jitsi-metrics")]
    env = child_env(PYTHONPATH=str(target))

    def cli(*argv: str) -> str:
        done = subprocess.run(command + list(argv), capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert cli("config", "dashboard") == (REPO / "dashboards" / "jitsi-meet.json").read_text(encoding="utf-8")
    assert "\njitsi_up 1\n" in cli("once", "--url", bridge_server.url)
    printed = cli("config", "collectd", "--url", bridge_server.url)
    assert re.findall(r"^\s*ModulePath (.*)$", printed, re.M) == [f'"{target}"']

    main_conf = tmp_path / "collectd.conf"
    (tmp_path / "jitsi.conf").write_text(printed, encoding="utf-8")
    main_conf.write_text(
        f'Hostname "host"\nFQDNLookup false\nBaseDir "{tmp_path}"\nPIDFile "{tmp_path}/collectd.pid"\n'
        'LoadPlugin csv\n<Plugin csv>\n  DataDir "stdout"\n  StoreRates false\n</Plugin>\n'
        f'Include "{tmp_path / "jitsi.conf"}"\n', encoding="utf-8")
    system = child_env(PATH="/usr/sbin:/usr/bin:/sbin:/bin")
    system.pop("VIRTUAL_ENV", None)
    done = subprocess.run([require_tool("collectd"), "-T", "-C", str(main_conf)], capture_output=True, text=True,
                          env=system, timeout=60)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert bridge_server.requests >= 2  # once by the CLI, once by collectd's read
    values = dict(PUTVAL.findall(done.stdout))
    assert values and all("/jitsi-" in key for key in values)
