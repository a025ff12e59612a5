"""Issue 10 item 1: an empty or blank selector is bad usage, never "every row"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_helpers import fingerprint, one_line, run
from tui_sync.sandbox.state import ensure_sandbox

SYNC = ("sync", "--pair", "sandbox", "--to", "store", "--fields", "price")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sandbox with one applied run, so that `undo ""` has something it could wrongly undo."""
    home = tmp_path_factory.mktemp("selectors")
    ensure_sandbox(home / "data", size=300)
    rows = json.loads(run(home, "diff", "--pair", "sandbox", "--json").stdout)
    sku = next(r["sku"] for r in rows if r["status"] == "out_of_sync" and r["cells"]["P"] == "N")
    assert run(home, *SYNC, "--sku", sku).returncode == 0
    return home


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        ((*SYNC, "--sku", ""), "--sku"),
        ((*SYNC, "--sku", ","), "--sku"),
        ((*SYNC, "--sku", " , "), "--sku"),
        ((*SYNC, "--sku", "   "), "--sku"),
        ((*SYNC, "--status", ""), "--status"),
        ((*SYNC, "--status", " ,"), "--status"),
        (("diff", "--status", ""), "--status"),
        (("undo", ""), "RUN_ID"),
        (("undo", "  "), "RUN_ID"),
        (("log", "--run", ""), "--run"),
        (("log", "--run", " "), "--run"),
        (("diff", "--pair", ""), "--pair"),
        (("sync", "--pair", "", "--to", "store", "--fields", "price", "--all"), "--pair"),
    ],
)
def test_an_empty_selector_is_bad_usage_and_writes_nothing(
    home: Path, args: tuple[str, ...], flag: str
) -> None:
    before = fingerprint(home)
    out = run(home, *args)
    assert out.returncode == 2, out.stdout
    assert one_line(out.stderr).startswith(f"tui-sync: {flag}: ")
    assert out.stdout == b""
    assert fingerprint(home) == before


def test_only_all_means_every_row(home: Path) -> None:
    out = run(home, *SYNC, "--all", "--dry-run")
    assert out.stdout.startswith(b"Plan: ")
