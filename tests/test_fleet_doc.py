"""docs/fleet.md's file_sd example passes promtool check config, targets file included."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, require_tool

DOC = REPO / "docs" / "fleet.md"


def block(marker: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"<!-- {re.escape(marker)} -->\n```yaml\n(.*?)```", text, re.S)
    assert match, f"docs/fleet.md has no yaml block after <!-- {marker} -->"
    return match.group(1)


@pytest.mark.integration
def test_file_sd_example_passes_promtool(tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    targets_path = "/etc/prometheus/jitsi-bridges.yml"
    targets = tmp_path / "jitsi-bridges.yml"
    targets.write_text(block(f"file-sd: {targets_path}"), encoding="utf-8")
    config = block("prometheus-config: file-sd")
    assert config.count(targets_path) == 1
    conf = tmp_path / "prometheus.yml"
    conf.write_text(config.replace(targets_path, str(targets)), encoding="utf-8")
    out = subprocess.run([promtool, "check", "config", str(conf)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout + out.stderr


@pytest.mark.integration
def test_promtool_rejects_a_broken_targets_file(tmp_path: Path) -> None:
    # The check above must be able to fail: promtool does read the targets file.
    promtool = require_tool("promtool")
    targets = tmp_path / "jitsi-bridges.yml"
    targets.write_text("- targets: meet1\n  labels: [oops]\n", encoding="utf-8")
    conf = tmp_path / "prometheus.yml"
    conf.write_text(block("prometheus-config: file-sd").replace("/etc/prometheus/jitsi-bridges.yml", str(targets)),
                    encoding="utf-8")
    out = subprocess.run([promtool, "check", "config", str(conf)], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
