"""The documentation a user's clone has: the event catalogue matches the code, and no link points
outside the repository or at a file that is not there."""
from __future__ import annotations

import re
import subprocess
import sys

from tanhui_shared.settings import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "tools"))
import event_catalogue  # noqa: E402

MARKDOWN_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True,
                            check=True).stdout.split()
    return [name for name in listed if (REPO_ROOT / name).is_file()]


def test_event_catalogue_is_written_from_the_contracts():
    written = (REPO_ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    assert written == event_catalogue.render(), (
        "docs/events.md is stale: run `uv run python tools/event_catalogue.py` and commit it")


def test_the_catalogue_names_every_contract_and_its_consumers():
    text = event_catalogue.render()
    from tanhui_shared.contracts.events import CONTRACTS

    for event_type in CONTRACTS:
        assert f"`{event_type}`" in text
    # a saga's two ends: credits applies what verification publishes, and the reverse
    assert "### MonitoringVerified — `cn.tanhui.verification.monitoring_verified.v1`" in text
    issued = text.split("### CreditsIssued")[1].split("###")[0]
    assert "applied by: verification" in issued


def test_no_file_points_outside_the_repository():
    offenders = []
    for name in tracked_files():
        if name.endswith((".png", ".pdf", ".pem", ".jar", ".xlsx", ".lock")) or name == "tests/test_docs.py":
            continue
        text = (REPO_ROOT / name).read_text(encoding="utf-8", errors="replace")
        if "shared/DESIGN.md" in text or re.search(r"(?<![\w/])DESIGN\.md", text):
            offenders.append(name)
    assert offenders == [], f"these still cite a design page that is not in the repository: {offenders}"


def test_every_relative_link_in_the_docs_resolves():
    broken = []
    pages = [p for p in tracked_files() if p.endswith(".md")]
    for page in pages:
        source = REPO_ROOT / page
        for target in MARKDOWN_LINK.findall(source.read_text(encoding="utf-8")):
            if "://" in target or target.startswith(("mailto:", "/")):
                continue
            if not (source.parent / target).exists():
                broken.append(f"{page} -> {target}")
    assert broken == [], f"links to files that do not exist: {broken}"
