"""In the plan of the sync dialog: Enter on a line opens that row, `c` copies the equivalent CLI
command (quoted for a shell), `x` saves the plan file that `sync --plan FILE` applies."""

from __future__ import annotations

import asyncio
import shlex
from pathlib import Path

import pytest
from textual.widgets import Input

from tests.conftest import clipboard, make_app, settle
from tui_sync import guards, plan_io, report
from tui_sync.cli import main
from tui_sync.model import Change, Plan, Refusal
from tui_sync.tui.app import TuiSyncApp
from tui_sync.tui.screens.confirm_apply import ConfirmApply
from tui_sync.tui.screens.export_dialog import ExportDialog
from tui_sync.tui.screens.row_detail import RowDetailScreen
from tui_sync.tui.screens.sync_dialog import Scope, SyncDialog, cli_command


@pytest.fixture(autouse=True)
def no_arm_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ConfirmApply, "ARM_SECONDS", 0.0)


async def planned(app: TuiSyncApp, pilot: object, *keys: str) -> SyncDialog:
    await settle(pilot)  # type: ignore[arg-type]
    await pilot.press(*keys, "s", "p")  # type: ignore[attr-defined]
    await app.workers.wait_for_complete()
    await pilot.pause()  # type: ignore[attr-defined]
    dialog = app.screen
    assert isinstance(dialog, SyncDialog) and dialog.plan is not None
    assert dialog.plan.changes
    return dialog


def dry_run_lines(data_dir: Path, capsys: pytest.CaptureFixture[str], command: str) -> list[str]:
    words = shlex.split(command)
    assert words[:2] == ["tui-sync", "sync"]
    capsys.readouterr()
    assert main(["--data-dir", str(data_dir), *words[1:], "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    return [line for line in out if line.startswith("  write ")]


async def test_enter_on_a_plan_line_opens_that_rows_detail(data_dir: Path) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = await planned(app, pilot, "2", "space", "space", "space")
        assert app.focused is not None and app.focused.id == "back"
        assert dialog.plan is not None and len(dialog.plan.changes) >= 2
        wanted = dialog.plan.changes[1].sku
        await pilot.press("down", "down", "enter")  # into the lines, the second, open it
        await app.workers.wait_for_complete()
        await pilot.pause()
        detail = app.screen
        assert isinstance(detail, RowDetailScreen)
        assert detail.row.sku == wanted
        await pilot.press("escape")
        assert app.screen is dialog and dialog.plan is not None  # back to the same plan


async def test_c_copies_the_cli_command_that_makes_the_same_plan(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        sent = clipboard(app, monkeypatch)
        dialog = await planned(app, pilot, "2", "space", "space", "space", "space")
        assert dialog.plan is not None
        shown = [line for line in report.plan_lines(dialog.plan) if line.startswith("  write ")]
        await pilot.press("c")
        await pilot.press("escape", "a")  # the whole Out of sync view: a --status command
        await planned(app, pilot)
        await pilot.press("c")
    assert len(sent) == 2
    some, whole = sent
    assert "--sku" in shlex.split(some) and "--status" not in shlex.split(some)
    assert dry_run_lines(data_dir, capsys, some) == shown
    assert shlex.split(whole)[-2:] == ["--status", "out_of_sync"]
    assert shlex.split(whole)[2:4] == ["--pair", "sandbox"]


def test_the_command_quotes_hostile_skus_and_refuses_what_sku_cannot_name() -> None:
    plan = Plan(pair="my pair", target="store", fields=("quantity", "price"))
    hostile = "A'; rm -rf ~ $(x) `y`"
    plan.changes.append(Change(hostile, "store", "1", "quantity", 1, 2))
    plan.refusals.append(Refusal("B C", None, "base"))
    command, _ = cli_command("my pair", plan, Scope("visible", "", [0, 1]))
    assert command is not None
    assert shlex.split(command) == [
        "tui-sync", "sync", "--pair", "my pair", "--to", "store",
        "--fields", "quantity,price", "--sku", f"{hostile},B C",
    ]  # fmt: skip
    plan.refusals.append(Refusal("D,E", None, "base"))
    plan.refusals.append(Refusal("F\x1b]52;c;x\x07", None, "base"))
    command, why = cli_command("my pair", plan, Scope("visible", "", [0, 1, 2, 3]))
    assert command is None and why.startswith("2 SKU(s) hold a comma, a control character")


async def test_x_saves_the_plan_that_sync_plan_then_applies(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        dialog = await planned(app, pilot, "4", "space", "space")
        the_plan = dialog.plan
        assert the_plan is not None
        await pilot.press("x")
        export = app.screen
        assert isinstance(export, ExportDialog)
        box = export.query_one("#export-path", Input)
        path = Path(box.value)
        assert path.name == "plan-20261123-120000.json"
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen is dialog
        said = [n.message for n in app._notifications]
        assert any(f"Plan saved to {path.resolve()}" in m for m in said), said
    saved = plan_io.read(path)
    assert guards.plan_lines(saved) == guards.plan_lines(the_plan)
    capsys.readouterr()
    # The sync runs its own event loop: in a thread, as a separate command would.
    argv = ["--data-dir", str(data_dir), "sync", "--plan", str(path)]
    assert await asyncio.to_thread(main, argv) == 0
    out = capsys.readouterr().out
    assert f"{len(the_plan.changes)} done, 0 conflict(s)" in out
