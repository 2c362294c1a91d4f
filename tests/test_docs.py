from __future__ import annotations

import re

from conftest import REPO
from jitsi_metrics.gen_docs import generated_files


def test_generated_files_are_fresh():
    for path, text in generated_files().items():
        with open(REPO / path, encoding="utf-8") as handle:
            assert handle.read() == text, f"{path} is stale: run python -m jitsi_metrics.gen_docs"


def test_readme_gives_the_two_commands_and_ci_runs_the_test_one():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "bash scripts/demo" in readme and "bash scripts/test" in readme
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^exec bash scripts/test$", ci, re.M)


def test_docs_link_targets_exist():
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#]+)\)", doc.read_text(encoding="utf-8")):
            if "://" in target:
                continue
            assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"
