"""`tui-sync sync --plan FILE`: a reviewed plan, saved, applied later only if it still holds."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.cli_helpers import fingerprint
from tests.writekit import Home, q_rows, refreshed_home
from tui_sync.config import SANDBOX_PAIR
from tui_sync.connectors import capabilities
from tui_sync.export import export_plan
from tui_sync.model import Row
from tui_sync.sandbox import outside
from tui_sync.sync import plan

SIZE = 400


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Home]:
    with refreshed_home(tmp_path, SIZE) as home:
        yield home


def saved_plan(home: Home, rows: Sequence[Row]) -> Path:
    """The plan the console's `x` would save for these rows: quantity to the store."""
    the_plan = plan(
        SANDBOX_PAIR,
        rows,
        "store",
        ("quantity",),
        capabilities(SANDBOX_PAIR.store, "store"),
        capabilities(SANDBOX_PAIR.backoffice, "backoffice"),
    )
    assert len(the_plan.changes) == len(rows)
    path = home.root / "reviewed.json"
    export_plan(the_plan, path)
    return path


def test_a_plan_that_still_holds_is_applied(home: Home) -> None:
    rows = q_rows(home, 3)
    path = saved_plan(home, rows)
    out = home.ok("sync", "--plan", str(path))
    assert "3 done, 0 conflict(s)" in out.stdout
    after = {r.sku: r for r in home.rows()}
    for row in rows:
        fresh = after[row.sku]
        assert fresh.cells["Q"] == "S"
        assert fresh.store is not None and fresh.backoffice is not None
        assert fresh.store.quantity == fresh.backoffice.quantity


def test_a_value_changed_since_refuses_the_plan_and_names_it(home: Home) -> None:
    rows = q_rows(home, 3)
    path = saved_plan(home, rows)
    moved = rows[1].store
    assert moved is not None and isinstance(moved.quantity, int)
    outside.set_value(home.data, "store", moved.id, "quantity", moved.quantity + 7)
    home.ok("refresh")
    before = fingerprint(home.root)
    out = home.run("sync", "--plan", str(path))
    assert out.returncode == 1, (out.stdout, out.stderr)
    err = out.stderr.splitlines()
    assert err[0].startswith(f"tui-sync: the plan in {path} no longer holds")
    assert err[0].endswith("nothing written")
    assert err[1] == "0 line(s) added, 0 removed, 1 changed"
    assert err[2].startswith(f"  changed: {rows[1].sku} quantity {moved.quantity} -> ")
    assert f"now  {rows[1].sku} quantity {moved.quantity + 7} -> " in err[2]
    assert fingerprint(home.root) == before  # nothing written, no run recorded


def test_a_plan_file_is_checked_before_anything_is_read(home: Home) -> None:
    path = saved_plan(home, q_rows(home, 1))
    bad = home.root / "bad.json"
    bad.write_text('{"format": "something else"}')
    out = home.run("sync", "--plan", str(bad))
    assert out.returncode == 2 and "not a usable plan" in out.stderr
    out = home.run("sync", "--plan", str(path), "--to", "store")
    assert out.returncode == 2 and "leave out --to" in out.stderr
    out = home.run("sync", "--fields", "quantity", "--all")
    assert out.returncode == 2 and "--to: required" in out.stderr
