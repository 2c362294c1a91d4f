"""Golden cases: every folder of tests/cases/ through each front end, compared with its expected files.

The expected files were reviewed by hand against payload.json (tests/cases/README.md); run
``pytest tests/test_golden.py --update-goldens`` to rewrite them after a deliberate change, then
review the diff. The default run only compares.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import REPO, child_env, serving
from golden import CASES, EXPECTED_FILES, case_names, mask_address, run_collectd, run_once
from telegraf_helpers import console_script

NAMES = case_names()


@pytest.fixture
def update(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


def check(case: Path, name: str, actual: str, update: bool) -> None:
    path = case / name
    if update:
        path.write_text(actual, encoding="utf-8")
        return
    assert path.is_file(), f"{path} is missing; run pytest {Path(__file__).name} --update-goldens and review it"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{case.name}/{name} differs (a deliberate change? --update-goldens, then review)"


@pytest.mark.parametrize("name", NAMES)
def test_prometheus(name: str, update: bool) -> None:
    out = run_once(CASES / name, "prometheus")
    check(CASES / name, "expected.prom", out.stdout, update)
    check(CASES / name, "expected.warnings", out.stderr, update)


@pytest.mark.parametrize("name", NAMES)
def test_influx(name: str, update: bool) -> None:
    out = run_once(CASES / name, "influx")
    check(CASES / name, "expected.influx", out.stdout, update)
    # The warnings do not depend on the output format.
    check(CASES / name, "expected.warnings", out.stderr, False)


@pytest.mark.parametrize("name", NAMES)
def test_collectd(name: str, update: bool) -> None:
    check(CASES / name, "expected.collectd", run_collectd(CASES / name), update)


def test_every_case_is_complete_and_every_payload_has_a_case() -> None:
    assert len(NAMES) >= 25
    for name in NAMES:
        for file in ("source.txt",) + EXPECTED_FILES:
            assert (CASES / name / file).is_file(), f"{name}/{file}"
    copied = {(CASES / n / "source.txt").read_text(encoding="utf-8").split("\n", 1)[0] for n in NAMES}
    wanted = [p for p in sorted((REPO / "tests" / "payloads" / "real").glob("*.json"))]
    wanted += sorted((REPO / "tests" / "fixtures").glob("*.json"))
    for path in wanted:
        assert f"copy-of: {path.relative_to(REPO).as_posix()}" in copied, f"no golden case for {path.name}"


@pytest.mark.parametrize("name", NAMES)
def test_copied_payload_is_byte_for_byte_its_source(name: str) -> None:
    first = (CASES / name / "source.txt").read_text(encoding="utf-8").split("\n", 1)[0]
    if not first.startswith("copy-of: "):
        assert first.startswith("Written by hand"), f"{name}/source.txt says neither where it came from nor why"
        return
    origin = REPO / first[len("copy-of: "):]
    assert (CASES / name / "payload.json").read_bytes() == origin.read_bytes(), f"{name} differs from {origin}"


def test_console_script_prints_the_golden_text() -> None:
    # The other tests call the CLI's entry point in-process (fast); this one runs the installed command.
    case = CASES / "real-jvb2-2.3.168-stable9779-from-designet-zabbix-template"
    with serving((case / "payload.json").read_bytes()) as server:
        proc = subprocess.run([console_script(), "once", "--url", server.url], capture_output=True, text=True,
                              env=child_env(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    expected = (case / "expected.prom").read_text(encoding="utf-8").splitlines()
    got = mask_address(proc.stdout, server.address).splitlines()
    assert len(got) == len(expected)
    for want, line in zip(expected, got):
        if want.startswith("jitsi_scrape_duration_seconds "):
            assert float(line.split()[1]) >= 0
        else:
            assert line == want
    assert proc.stderr == (case / "expected.warnings").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", NAMES)
def test_expected_files_parse_strictly(name: str) -> None:
    # A regenerated golden file must still be valid text format and line protocol.
    import lineproto
    import textformat

    case = CASES / name
    families = textformat.parse((case / "expected.prom").read_text(encoding="utf-8").replace(" SECONDS\n", " 0\n"))
    assert families["jitsi_up"].samples[0].value == 1
    lines = (case / "expected.influx").read_text(encoding="utf-8").replace("=SECONDS", "=0")
    points = lineproto.parse(lines)
    assert points and all(p.measurement == "jitsi" for p in points)


def test_newline_in_a_bridge_string_cannot_break_line_protocol(tmp_path: Path) -> None:
    import lineproto

    case = tmp_path / "newline"
    case.mkdir()
    (case / "payload.json").write_text('{"conferences": 1, "version": "2.3\\nforged_line x=1i"}', encoding="utf-8")
    out = run_once(case, "influx")
    points = lineproto.parse(out.stdout.replace("=SECONDS", "=0"))
    assert [p.measurement for p in points] == ["jitsi"] * len(points)
    assert not any("x" in p.fields for p in points), "the bridge's string forged a point of its own"
