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


def test_readme_layout_names_every_module_and_only_those():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    layout = re.search(r"^## Layout\n.*?^```\nplugins/jitsi_metrics/\n(.*?)^```", readme, re.M | re.S)
    assert layout, "README.md has no ## Layout block listing plugins/jitsi_metrics/"
    package = REPO / "plugins" / "jitsi_metrics"
    # A subpackage is named by its folder; its modules may be named inside its line.
    modules = {p.relative_to(package).as_posix() for p in package.rglob("*.py")}
    entries = [line.split()[0] for line in layout.group(1).splitlines() if line.strip()]
    expected = sorted({m if "/" not in m else m.split("/")[0] + "/" for m in modules})
    assert sorted(entries) == expected
    named = set(re.findall(r"[\w/]+\.py", layout.group(1)))
    for module in modules - named:  # a subpackage's modules, named in its folder's line
        folder = module.split("/")[0] + "/"
        line = next(line for line in layout.group(1).splitlines() if line.split()[0] == folder)
        assert module.endswith("__init__.py") or module.split("/")[-1] in line, module
    gone = {n for n in named if not (package / n).is_file() and not any(m.endswith("/" + n) for m in modules)}
    assert not gone, f"the layout names modules that do not exist: {sorted(gone)}"
