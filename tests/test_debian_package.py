"""The Debian package, end to end: build it with scripts/build-deb, install it with apt-get,
use it as an administrator would, purge it and look for leftovers.

Needs root (apt-get install into this machine) and Debian's build tools; under CI=true
both are there and the test must run. It refuses to run when the package is already
installed, so it never purges an installation it did not make.
"""
from __future__ import annotations

import configparser
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from conftest import IN_CI, REPO, child_env, missing, require_tool
from jitsi_metrics.simulate import BridgeServer
from waiting import wait_until

pytestmark = pytest.mark.integration

PACKAGE = "jitsi-meet-metrics"
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
SHARE = Path("/usr/share") / PACKAGE
UNIT = Path("/lib/systemd/system/prometheus-jitsi-meet-exporter.service")
DEFAULTS = Path("/etc/default/prometheus-jitsi-meet-exporter")
USER = "jitsi-metrics"
APT = ["apt-get", "-y", "-qq", "-o", "DPkg::Lock::Timeout=300"]
PUTVAL = re.compile(r"^PUTVAL (\S+) interval=\S+ \S+:(\S+)$", re.M)


def version() -> str:
    parser = configparser.ConfigParser()
    parser.read(REPO / "setup.cfg", encoding="utf-8")
    return parser["metadata"]["version"]


def system_env() -> Dict[str, str]:
    """Debian's own PATH and no venv: what a shell on a fresh host has."""
    env = child_env(PATH=SYSTEM_PATH, DEBIAN_FRONTEND="noninteractive")
    env.pop("VIRTUAL_ENV", None)
    return env


def run(argv: List[str], timeout: float = 120, **kwargs: object) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    out = subprocess.run(argv, capture_output=True, text=True, env=system_env(), timeout=timeout, **kwargs)  # type: ignore[call-overload]
    assert out.returncode == 0, f"{argv}: {out.stdout[-2000:]}{out.stderr[-2000:]}"
    return out  # type: ignore[no-any-return]


@contextmanager
def bridge() -> Iterator[BridgeServer]:
    server = BridgeServer().start()
    try:
        yield server
    finally:
        server.stop()


def installed() -> bool:
    out = subprocess.run(["dpkg-query", "-W", "-f=${Status}", PACKAGE], capture_output=True, text=True)
    return out.returncode == 0 and "installed" in out.stdout.split()


class Installed:
    def __init__(self, deb: Path, files: List[str]) -> None:
        self.deb = deb
        self.files = files


@pytest.fixture(scope="module")
def package() -> Iterator[Installed]:
    if os.geteuid() != 0:
        missing("installing the Debian package needs root")
    for tool in ("dpkg-buildpackage", "apt-get", "collectd", "systemd-analyze"):
        require_tool(tool)
    if installed():
        # Under CI the machine is the test's own, so an installed copy is one an interrupted
        # run left behind: purge it and go on. Elsewhere it may be someone's real install,
        # whose configuration a purge would delete.
        if not IN_CI:
            pytest.skip(f"{PACKAGE} is already installed here; this test installs and purges its own copy")
        run(APT + ["purge", PACKAGE], timeout=600)
        assert not installed(), f"{PACKAGE} is still installed after apt-get purge"
    run(["bash", str(REPO / "scripts" / "build-deb")], timeout=600, cwd=REPO)
    deb = REPO / "dist" / f"{PACKAGE}_{version()}_all.deb"
    assert deb.is_file()
    try:
        run(APT + ["install", str(deb)], timeout=600)
        files = run(["dpkg", "-L", PACKAGE]).stdout.splitlines()
        yield Installed(deb, files)
    finally:
        if installed():
            subprocess.run(APT + ["purge", PACKAGE], capture_output=True, env=system_env(), timeout=600)


def test_files_land_where_debian_puts_them(package: Installed) -> None:
    files = set(package.files)
    for path in ["/usr/bin/jitsi-metrics", "/usr/bin/prometheus-jitsi-meet-exporter",
                 "/usr/lib/python3/dist-packages/jitsi_metrics/__init__.py",
                 "/usr/lib/python3/dist-packages/jitsi_metrics/schema/colibri-stats.schema.json",
                 f"{SHARE}/collectd/jitsi.conf", str(UNIT), str(DEFAULTS)]:
        assert path in files, path
    # Every snippet, dashboard and rule file of the repo, uncompressed and as shipped (the
    # collectd snippet apart: it loses its ModulePath line).
    shipped = [p for folder in ("telegraf", "dashboards", "prometheus") for p in (REPO / folder).rglob("*")
               if p.is_file()]
    assert len(shipped) >= 6
    for source in shipped:
        name = source.relative_to(REPO)
        assert str(SHARE / name) in files, name
        assert (SHARE / name).read_bytes() == source.read_bytes(), name
    assert not re.search(r"^\s*ModulePath", (SHARE / "collectd/jitsi.conf").read_text(encoding="utf-8"), re.M)
    assert 'ARGS="' in DEFAULTS.read_text(encoding="utf-8")
    assert run(["id", "-u", USER]).stdout.strip().isdigit()
    # Installed disabled: nothing polls a bridge until the administrator enables it.
    assert not list(Path("/etc/systemd/system").rglob(UNIT.name))


def test_lintian_reports_no_errors(package: Installed) -> None:
    lintian = require_tool("lintian")
    out = subprocess.run([lintian, "--fail-on", "error", str(package.deb)], capture_output=True, text=True,
                         env=system_env(), timeout=300)
    assert out.returncode == 0 and not re.search(r"^E: ", out.stdout, re.M), out.stdout + out.stderr
    # The warnings kept (see debian/README.source): no manual pages yet, --help has examples.
    kept = set(re.findall(r"^W: \S+ (\S+)", out.stdout, re.M))
    assert kept <= {"no-manual-page"}, out.stdout


def test_unit_passes_systemd_analyze_verify(package: Installed) -> None:
    out = subprocess.run(["systemd-analyze", "verify", str(UNIT)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and UNIT.name not in out.stderr, out.stderr
    # The hardening options are in effect: systemd's exposure score (1.4 now; --threshold is in
    # tenths) stays at 2.0 or below, its "OK" band.
    security = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--threshold=20", str(UNIT)],
                              capture_output=True, text=True, timeout=60)
    assert security.returncode == 0, security.stdout[-1500:] + security.stderr
    unit = UNIT.read_text(encoding="utf-8")
    for line in ["User=jitsi-metrics", "EnvironmentFile=/etc/default/prometheus-jitsi-meet-exporter",
                 "ExecStart=/usr/bin/prometheus-jitsi-meet-exporter $ARGS", "NoNewPrivileges=yes",
                 "ProtectSystem=strict"]:
        assert line in unit.splitlines(), line


def test_packaged_snippet_in_real_collectd_without_module_path(package: Installed, tmp_path: Path) -> None:
    snippet = (SHARE / "collectd/jitsi.conf").read_text(encoding="utf-8")
    assert snippet.count("http://localhost:8080/colibri/stats") == 1
    main = tmp_path / "collectd.conf"
    main.write_text(
        f'Hostname "host"\nFQDNLookup false\nInterval 1\nBaseDir "{tmp_path}"\nPIDFile "{tmp_path}/collectd.pid"\n'
        'LoadPlugin csv\n<Plugin csv>\n  DataDir "stdout"\n  StoreRates false\n</Plugin>\n'
        f'Include "{tmp_path / "jitsi.conf"}"\n', encoding="utf-8")
    with bridge() as server:
        (tmp_path / "jitsi.conf").write_text(snippet.replace("http://localhost:8080/colibri/stats", server.url),
                                             encoding="utf-8")
        # collectd -T: the check docs/collectd.md gives; a failed import would exit 1.
        run(["collectd", "-T", "-C", str(main)], timeout=60)
        # Then a real run in the foreground; csv prints every value when collectd stops.
        with open(tmp_path / "stdout", "wb") as out, open(tmp_path / "stderr", "wb") as err:
            collectd = subprocess.Popen(["collectd", "-f", "-C", str(main)], stdout=out, stderr=err, env=system_env())
            try:
                wait_until(lambda: server.requests >= 3 or collectd.poll() is not None, timeout=30,
                           what="collectd to read the bridge twice")
            finally:
                collectd.send_signal(signal.SIGTERM)
                collectd.wait(timeout=30)
    log = (tmp_path / "stderr").read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in log and "python plugin: Error" not in log, log
    values = dict(PUTVAL.findall((tmp_path / "stdout").read_text(encoding="utf-8")))
    assert values["host/jitsi-meet1/gauge-up"] == "1.000000", log
    assert float(values["host/jitsi-meet1/gauge-conferences"]) >= 0
    assert int(values["host/jitsi-meet1/derive-total_conferences_created"]) >= 0


def test_commands_from_usr_bin(package: Installed) -> None:
    where = run(["python3", "-c", "import jitsi_metrics; print(jitsi_metrics.__file__)"]).stdout.strip()
    assert where == "/usr/lib/python3/dist-packages/jitsi_metrics/__init__.py"
    with bridge() as server:
        once = run(["/usr/bin/jitsi-metrics", "once", "--url", server.url]).stdout
        assert "\njitsi_up 1\n" in once and "\njitsi_conferences " in once
        printed = run(["/usr/bin/jitsi-metrics", "config", "collectd", "--url", server.url]).stdout
        assert not re.search(r"^\s*ModulePath", printed, re.M)
        assert "/usr/bin/jitsi-metrics" in run(["/usr/bin/jitsi-metrics", "config", "telegraf", "--url",
                                                server.url]).stdout

        with socket.socket() as probe:  # a free ephemeral port for the drop-in's Go-style flag
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        exporter = subprocess.Popen(["/usr/bin/prometheus-jitsi-meet-exporter", "-videobridge-url", server.url,
                                     "-web.listen-address", f"127.0.0.1:{port}"], env=system_env(),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            def scrape() -> str:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                try:
                    conn.request("GET", "/metrics")
                    return conn.getresponse().read().decode()
                except OSError:
                    assert exporter.poll() is None, exporter.stderr.read() if exporter.stderr else ""
                    return ""
                finally:
                    conn.close()
            body = wait_until(scrape, timeout=30, what="the packaged drop-in exporter to answer /metrics")
            assert "\njitsi_up 1\n" in body and "\ntotal_ice_succeeded " in body
        finally:
            exporter.terminate()
            exporter.communicate(timeout=30)  # also closes the stderr pipe


def test_purge_leaves_nothing_behind(package: Installed) -> None:
    run(APT + ["purge", PACKAGE], timeout=600)
    assert not installed()
    left = [path for path in package.files if os.path.lexists(path) and not os.path.isdir(path)]
    assert left == []
    for folder in [SHARE, Path("/usr/lib/python3/dist-packages/jitsi_metrics"), Path("/usr/share/doc") / PACKAGE]:
        assert not folder.exists(), folder
    assert not DEFAULTS.exists()
    assert shutil.which("jitsi-metrics", path=SYSTEM_PATH) is None
    # Debian keeps system users after purge (files they owned could go to a reused id).
    assert run(["id", "-u", USER]).returncode == 0
