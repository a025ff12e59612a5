"""Our own writes, known as ours: row detail says, per field tui-sync wrote, whether the value
read since is the one it wrote (in which run) or someone else changed it after."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import FIXED_TIME
from tests.screen import screen_text
from tui_sync import cli, journal
from tui_sync.cache import Cache
from tui_sync.config import SANDBOX_PAIR
from tui_sync.model import Row, Status
from tui_sync.sandbox import outside
from tui_sync.tui.app import TuiSyncApp
from tui_sync.tui.screens.row_detail import RowDetailScreen
from tui_sync.views import iter_rows


def tui_sync(data_dir: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    config = data_dir.parent / "config.toml"
    config.write_text("")
    code = cli.main(["--config", str(config), "--data-dir", str(data_dir), *args])
    out = capsys.readouterr()
    assert code == 0, out
    return out.out


def rows(data_dir: Path, skus: Sequence[str] = ()) -> list[Row]:
    with Cache.open(data_dir) as cache:
        return list(iter_rows(cache, "sandbox", skus=skus))


@dataclass(frozen=True)
class Written:
    run_id: str
    ours: Row  # synced by tui-sync, untouched since
    theirs: Row  # synced by tui-sync, then changed in the store by someone else
    untouched: Row  # never written by tui-sync


@pytest.fixture
def written(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> Written:
    """(Outside the test's event loop: the CLI runs its own.)"""
    tui_sync(data_dir, capsys, "refresh")
    ours, theirs, untouched = [
        r
        for r in rows(data_dir)
        if r.status is Status.OUT_OF_SYNC and r.cells["Q"] == "N" and r.store and r.backoffice
    ][:3]
    out = tui_sync(
        data_dir,
        capsys,
        *("sync", "--to", "store", "--fields", "quantity", "--sku", f"{ours.sku},{theirs.sku}"),
    )
    (run_id,) = re.findall(r"\br-\d{8}-\d{4}\b", out.splitlines()[-1])
    # Someone changes one of them in the store after our run; the next refresh reads it.
    assert theirs.store is not None
    outside.set_value(data_dir, "store", theirs.store.id, "quantity", 999)
    tui_sync(data_dir, capsys, "refresh")
    return Written(run_id, ours, theirs, untouched)


async def test_row_detail_says_who_last_set_each_field(data_dir: Path, written: Written) -> None:
    run_id, ours, theirs, untouched = (
        written.run_id,
        written.ours,
        written.theirs,
        written.untouched,
    )
    app = TuiSyncApp(data_dir, SANDBOX_PAIR, clock=lambda: FIXED_TIME, refresh_on_start=False)
    async with app.run_test(size=(80, 24)) as pilot:
        seen: dict[str, list[str]] = {}
        for row in (ours, theirs, untouched):
            (now,) = rows(data_dir, [row.sku])
            app.grid.cursor_row = now.pos
            await pilot.press("enter")
            assert isinstance(app.screen, RowDetailScreen)
            seen[row.sku] = [line.strip(" █") for line in screen_text(app).splitlines()]
            await pilot.press("escape")
    assert f"store quantity: last set by tui-sync in run {run_id}" in seen[ours.sku]
    assert "store quantity: changed by someone else" not in "\n".join(seen[ours.sku])
    assert theirs.backoffice is not None
    wrote = theirs.backoffice.quantity
    assert f"store quantity: changed by someone else since run {run_id}" in seen[theirs.sku]
    assert f"(that run wrote {wrote})" in seen[theirs.sku]
    assert "last set by tui-sync" not in "\n".join(seen[theirs.sku])
    assert "Who set it" not in seen[untouched.sku]  # never written by tui-sync: nothing said
    # The back office was not written: nothing is said of its fields.
    assert not any(line.startswith("back office quantity:") for line in seen[ours.sku])


def test_a_value_equal_to_ours_in_other_digits_is_still_ours(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tui_sync(data_dir, capsys, "refresh")
    row = next(
        r
        for r in rows(data_dir)
        if r.status is Status.OUT_OF_SYNC and r.cells["Q"] == "N" and r.store and r.backoffice
    )
    tui_sync(data_dir, capsys, "sync", "--to", "store", "--fields", "quantity", "--sku", row.sku)
    assert row.store is not None and row.backoffice is not None
    written = row.backoffice.quantity
    assert written is not None
    with Cache.open(data_dir) as cache:

        def who(value: object) -> list[tuple[str, bool]]:
            now = {"quantity": value, "price": None, "cost": None}
            found = journal.last_writes(cache, "sandbox", "store", row.store.id, now)  # type: ignore[union-attr,arg-type]
            return [(w.field, w.ours) for w in found]

        assert who(Decimal(f"{written}.000")) == [("quantity", True)]
        assert who(written + 1) == [("quantity", False)]
        assert who(None) == [("quantity", False)]
        assert journal.last_writes(cache, "sandbox", "backoffice", row.backoffice.id, {}) == []
