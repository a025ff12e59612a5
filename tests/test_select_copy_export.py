"""Acting on what the grid shows: `,` rows like the cursor row, `i` invert within the view, `v` a
sticky range, `y`/`Y` copy through the clipboard, `x` export in the schema of `diff`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Label

from tests.conftest import clipboard, make_app, settle
from tui_sync import export
from tui_sync.cli import main
from tui_sync.model import CODES, Row, Status
from tui_sync.tui.app import TuiSyncApp
from tui_sync.tui.screens.export_dialog import ExportDialog
from tui_sync.views import iter_rows


async def done(app: TuiSyncApp, pilot: Pilot[None]) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()


def status(app: TuiSyncApp) -> str:
    return str(app.query_one("#status-label", Label).render())


def cli_out(data_dir: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert main(["--data-dir", str(data_dir), "diff", "--pair", "sandbox", *args]) == 0
    return capsys.readouterr().out


def signature(row: Row) -> tuple[Status, frozenset[str]]:
    return row.status, frozenset(c for c in CODES if row.cells[c] == "N")


def selected_keys(app: TuiSyncApp) -> set[str]:
    rows = list(iter_rows(app.cache, "sandbox"))
    return {rows[pos].key for pos in app.grid.selected_positions()}


async def test_comma_selects_the_rows_of_the_view_like_the_cursor_row(data_dir: Path) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2")  # Out of sync: rows differ by which codes are N
        source = app.grid.source
        assert source is not None
        rows = source.fetch(0, len(source))
        # A cursor row whose N codes some out-of-sync rows share and others do not.
        kinds = {signature(r) for r in rows}
        assert len(kinds) > 1
        target = next(r for r in rows if sum(signature(x) == signature(r) for x in rows) > 1)
        app.grid.cursor_row = rows.index(target)
        outside = next(r for r in iter_rows(app.cache, "sandbox") if r.status == Status.IN_SYNC)
        app.grid.set_selection([outside.pos])  # selected in another view: stays selected
        await pilot.press("comma")
        await done(app, pilot)
        like = {r.key for r in rows if signature(r) == signature(target)}
        assert selected_keys(app) == like | {outside.key}
        assert f"{len(like):,} rows like" in status(app)


async def test_i_inverts_the_selection_within_the_view_only(data_dir: Path) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        outside = next(r for r in iter_rows(app.cache, "sandbox") if r.status == Status.IN_SYNC)
        app.grid.set_selection([outside.pos])
        await pilot.press("2", "space", "space")  # two Out of sync rows
        source = app.grid.source
        assert source is not None
        view = source.fetch(0, len(source))
        await pilot.press("i")
        await done(app, pilot)
        assert selected_keys(app) == {r.key for r in view[2:]} | {outside.key}
        await pilot.press("i")  # twice: as it was
        await done(app, pilot)
        assert selected_keys(app) == {r.key for r in view[:2]} | {outside.key}


async def test_v_anchors_a_range_that_v_or_space_selects_and_esc_drops(data_dir: Path) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        rows = list(iter_rows(app.cache, "sandbox"))
        await pilot.press("down", "v", "down", "down", "down")
        assert app.grid.selected_count == 0  # moving does not select
        assert "Range: 4 rows" in status(app)
        await pilot.press("v")
        await done(app, pilot)
        assert app.grid.selected_positions() == [1, 2, 3, 4]
        await pilot.press("down", "down", "v", "up", "up", "up", "up", "up", "up", "space")
        await done(app, pilot)
        assert app.grid.selected_positions() == [0, 1, 2, 3, 4, 5, 6]  # upwards, by space
        await pilot.press("end", "v", "up", "escape", "space")  # dropped: space toggles one
        await done(app, pilot)
        assert app.grid.selected_positions() == [0, 1, 2, 3, 4, 5, 6, len(rows) - 2]


async def test_y_copies_the_cursor_row_and_big_y_the_selection_as_diff_csv(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        sent = clipboard(app, monkeypatch)
        await settle(pilot)
        await pilot.press("down", "down", "y")
        assert len(sent) == 1
        await pilot.press("space", "space", "down", "space")  # rows 2, 3, 5 (space moves down)
        await pilot.press("Y")
        await done(app, pilot)
    # The console captures stdout while it runs: `diff` is asked once it has closed.
    lines = cli_out(data_dir, capsys, "--csv").splitlines(keepends=True)
    assert sent[0] == lines[0] + lines[3]  # the header, then row 2
    assert sent[1:] == ["".join([lines[0], lines[3], lines[4], lines[6]])]


async def test_a_selection_over_the_clipboard_limit_goes_to_a_file(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export, "CLIPBOARD_LIMIT", 2_000)
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        sent = clipboard(app, monkeypatch)
        await settle(pilot)
        await pilot.press("a", "Y")
        await done(app, pilot)
        assert sent == []
        (written,) = (data_dir / "exports").iterdir()
        assert str(written.resolve()) in status(app)
        assert "over the clipboard's limit" in status(app)
    assert written.read_bytes().decode() == cli_out(data_dir, capsys, "--csv")


@pytest.mark.parametrize("fmt", ["csv", "json"])
async def test_x_exports_the_view_as_diff_does(
    data_dir: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("2", "x")
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        if fmt == "json":
            await pilot.press("shift+tab", "down", "enter")  # Format: JSON
        box = dialog.query_one("#export-path", Input)
        assert box.value.endswith(f"out_of_sync-20261123-120000.{fmt}")
        path = Path(box.value)
        box.focus()
        await pilot.press("enter")
        await done(app, pilot)
        assert f"rows written to {path.resolve()}" in status(app)
    expected = cli_out(data_dir, capsys, f"--{fmt}", "--status", "out_of_sync")
    assert path.read_bytes().decode() == expected
    if fmt == "json":
        assert {r["status"] for r in json.loads(expected)} == {"out_of_sync"}


async def test_x_exports_the_selection_and_never_over_an_existing_file(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("down", "space", "space", "x")
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        await pilot.press("shift+tab", "shift+tab", "down", "enter")  # What: the selection
        box = dialog.query_one("#export-path", Input)
        assert "selection-" in box.value
        path = Path(box.value)
        box.focus()
        await pilot.press("enter")
        await done(app, pilot)
        before = path.read_bytes()
        await pilot.press("x")
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        dialog.query_one("#export-path", Input).value = str(path)
        await pilot.press("enter")
        await done(app, pilot)
        assert "exists" in status(app)
        assert path.read_bytes() == before
    lines = cli_out(data_dir, capsys, "--csv").splitlines(keepends=True)
    assert before.decode() == "".join([lines[0], lines[2], lines[3]])


async def test_a_refresh_says_what_changed_among_the_selected_rows(data_dir: Path) -> None:
    from tui_sync.sandbox import outside as vendor  # the sellers' own edits, by hand

    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        rows = list(iter_rows(app.cache, "sandbox"))
        matched = [r for r in rows if r.store and r.backoffice and r.status != Status.BASE]
        only_q = [
            r
            for r in matched
            if r.status == Status.OUT_OF_SYNC
            and r.cells["Q"] == "N"
            and all(r.cells[c] != "N" for c in CODES if c != "Q")
        ]
        fixed, moved = only_q[:2]  # moved: its quantity moves, still off (the same cells)
        gone = next(r for r in matched if r.status == Status.IN_SYNC and r.pos > moved.pos)
        kept = next(r for r in matched if r.status == Status.IN_SYNC and r.pos > gone.pos)
        app.grid.set_selection([fixed.pos, moved.pos, gone.pos, kept.pos])
        assert fixed.store and fixed.backoffice and gone.store and gone.backoffice
        assert moved.store and moved.backoffice
        vendor.set_value(data_dir, "store", fixed.store.id, "quantity", fixed.backoffice.quantity)
        wrong = next(
            q
            for q in (int(moved.store.quantity or 0) + d for d in (1, 2))
            if q != moved.backoffice.quantity
        )
        vendor.set_value(data_dir, "store", moved.store.id, "quantity", wrong)
        vendor.delete_item(data_dir, "store", gone.store.id)
        vendor.delete_item(data_dir, "backoffice", gone.backoffice.id)
        # BigCommerce reports no deletions: the periodic full refresh finds them. Make this one
        # that full refresh.
        with app.cache.conn:
            app.cache.conn.execute("UPDATE refreshes SET store_mark = NULL, backoffice_mark = NULL")
        await pilot.press("r")
        await settle(pilot)
        await done(app, pilot)
        assert status(app).endswith("selected: 1 now in sync, 1 changed, 1 gone")
        assert selected_keys(app) == {fixed.key, moved.key, kept.key}  # followed by key
        await pilot.press("r")  # nothing moved since
        await settle(pilot)
        await done(app, pilot)
        assert status(app).endswith("selected: 3 unchanged")


async def test_bulk_selections_merge_in_the_order_of_the_keys(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`,` then `i` is "invert (the rows like it)", even when the `,` query finishes last."""
    import threading

    from tui_sync import selection

    release = threading.Event()
    real = selection.like_mask

    def slow_like(*args: object, **kwargs: object) -> tuple[bytearray, int]:
        assert release.wait(30)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    computed = threading.Event()
    real_mask_of = selection.mask_of

    def mask_of(*args: object) -> bytearray:
        try:
            return real_mask_of(*args)  # type: ignore[arg-type]
        finally:
            computed.set()

    monkeypatch.setattr("tui_sync.tui.app.like_mask", slow_like)
    monkeypatch.setattr("tui_sync.tui.app.mask_of", mask_of)
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        source = app.grid.source
        assert source is not None
        view = source.fetch(0, len(source))
        target = view[0]
        await pilot.press("comma", "i")

        def inverted() -> bool:  # its mask made and handed over: the worker has ended
            return computed.is_set() and all(w.name != "_mask_worker" for w in app.workers)

        for _ in range(400):
            if inverted():
                break
            await pilot.pause(0.01)
        assert inverted()
        await pilot.pause()
        assert app.grid.selected_count == 0  # the invert waits for the `,` before it
        release.set()
        await done(app, pilot)
        like = {r.key for r in view if signature(r) == signature(target)}
        assert selected_keys(app) == {r.key for r in view} - like
