"""The run log: every sync and undo, newest first, and the changes of the highlighted run;
`u` undoes the highlighted run (its reverse plan in the sync dialog, then the same prompt).

The runs are read in a thread with a connection of its own: 200 runs of a big catalog hold
hundreds of thousands of journal lines, which the UI thread never reads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Label, Static

from tui_sync import journal
from tui_sync.cache import Cache
from tui_sync.config import PairConfig
from tui_sync.model import Plan, Row, side_label
from tui_sync.sync import plan_undo
from tui_sync.text import inert
from tui_sync.tui import actions
from tui_sync.tui.columns import fit_middle
from tui_sync.tui.screens.sync_dialog import SyncDialog

RUNS_SHOWN = 200
CHANGES_SHOWN = 500  # of the highlighted run; `tui-sync log --run ID` prints them all
SKU_CAP = 24
# Written changes first, then what went wrong, then what a rule refused.
RESULT_ORDER = {"done": 0, "conflict": 1, "failed": 1, "unknown": 2, "refused": 3}
# Narrow enough for 80 columns; the side and fields are in the changes' heading below.
RUN_COLUMNS = ("run", "kind", "started UTC", "state", "done", "failed", "unknown", "refused")


def reverse_plan(data_dir: Path, pair: PairConfig, run_id: str) -> Plan:
    """The undo of a run, as the CLI's `undo` plans it (in the dialog's thread)."""
    with Cache.open(data_dir) as cache:
        return plan_undo(cache, pair, run_id)


def changes_renderable(run: journal.Run) -> RenderableType:
    """The changes of one run, written ones first; every reason whole (it wraps), never cut."""
    entries = sorted(run.changes, key=lambda e: (RESULT_ORDER.get(e.result, 9), e.seq))
    shown = entries[:CHANGES_SHOWN]
    width = max(3, min(SKU_CAP, max((len(inert(e.sku)) for e in shown), default=3)))
    table = Table(box=None, pad_edge=False, expand=True, padding=(0, 1, 0, 0))
    table.add_column("sku", width=width, no_wrap=True)
    table.add_column("field", width=8, no_wrap=True)
    table.add_column("before → after", no_wrap=True, overflow="ellipsis", max_width=30)
    table.add_column("result", width=8, no_wrap=True)
    table.add_column("reason", ratio=1, overflow="fold")
    for e in shown:
        # What the target confirmed holding, where it said (it may have rounded).
        after = e.written if e.result == "done" else e.after
        table.add_row(
            Text(fit_middle(e.sku, width)),
            Text(e.field or "-"),
            Text(f"{inert(e.before or '')} → {inert(after or '')}"),
            Text(e.result),
            Text(inert(e.reason or "")),
        )
    target = f"the {side_label(run.target)}" if run.target else "nothing"
    head = Text(f"Run {inert(run.run_id)} ({inert(run.kind)})", style="bold")
    if run.undoes:
        head.append(f" undoing {inert(run.undoes)}")
    head.append(f", {inert(run.fields or '-')} to {target}, started {inert(run.started)}: ")
    head.append(
        f"{run.count('done')} done, {run.count('conflict')} conflict, {run.count('failed')} "
        f"failed, {run.count('unknown')} unknown, {run.count('refused')} refused"
    )
    parts: list[RenderableType] = [head, table]
    if len(entries) > CHANGES_SHOWN:
        more = len(entries) - CHANGES_SHOWN
        parts.append(Text(f"… and {more:,} more: tui-sync log --run {inert(run.run_id)}"))
    return Group(*parts)


class RunLogScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,l", "dismiss", "Close"), *actions.bindings("run_log")]  # noqa: RUF012

    def __init__(
        self, data_dir: Path, pair: PairConfig, start_undo: Callable[[Plan, str], None]
    ) -> None:
        super().__init__()
        self.data_dir = data_dir
        self.pair = pair
        self.start_undo = start_undo
        self.runs: list[journal.Run] = []
        self.loaded = False

    def compose(self) -> ComposeResult:
        with Vertical(id="log"):
            yield Label("[b]Run log[/b]  reading the runs… (Esc closes)", id="log-title")
            yield DataTable(id="runs", cursor_type="row")
            with VerticalScroll(id="changes"):
                yield Static("", id="changes-text")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#runs", DataTable).add_columns(*RUN_COLUMNS)
        self.query_one("#runs", DataTable).focus()
        self.reload()

    def reload(self) -> None:
        """Read the runs again (after an undo this screen started, or another process's run)."""
        self._load_worker()

    @work(thread=True, exclusive=True, group="run-log", exit_on_error=False)
    def _load_worker(self) -> None:
        with Cache.open(self.data_dir) as cache:
            found = journal.runs(cache, pair=self.pair.name, limit=RUNS_SHOWN)
        self.app.call_from_thread(self._show_runs, found)

    def _show_runs(self, runs: list[journal.Run]) -> None:
        self.runs, self.loaded = runs, True
        table = self.query_one("#runs", DataTable)
        table.clear()
        for run in runs:
            # DataTable parses a str cell as markup: every cell goes in as plain Text.
            table.add_row(
                _plain(run.run_id),
                _plain(run.kind),
                _plain(run.started[5:16].replace("T", " ")),  # MM-DD HH:MM
                _plain(run.state),
                run.count("done"),
                run.count("conflict") + run.count("failed"),
                run.count("unknown"),  # sent, never settled: read back by the next run
                run.count("refused"),
                key=run.run_id,
            )
        title = self.query_one("#log-title", Label)
        if runs:
            title.update("[b]Run log[/b]  u undoes the highlighted run (Esc closes)")
        else:
            title.update("[b]Run log[/b]  no runs yet (Esc closes)")
            self.query_one("#changes-text", Static).update("")

    @property
    def highlighted(self) -> journal.Run | None:
        table = self.query_one("#runs", DataTable)
        if not self.runs or table.cursor_row >= len(self.runs):
            return None
        return self.runs[table.cursor_row]

    @on(DataTable.RowHighlighted, "#runs")
    def _show_changes(self, event: DataTable.RowHighlighted) -> None:
        run = next((r for r in self.runs if r.run_id == event.row_key.value), None)
        shown = changes_renderable(run) if run is not None else ""
        self.query_one("#changes-text", Static).update(shown)

    def action_undo(self) -> None:
        run = self.highlighted
        if run is None:
            self.notify("No run to undo", markup=False)
            return
        make = partial(reverse_plan, self.data_dir, self.pair, run.run_id)
        origin = f"Undo of run {inert(run.run_id)} ({inert(run.kind)}, {inert(run.started)})"
        dialog = SyncDialog(self.pair, [], _no_rows, {}, origin, reverse=make)

        def chosen(plan: Plan | None) -> None:
            if plan is not None and not plan.is_empty:
                self.start_undo(plan, run.run_id)

        self.app.push_screen(dialog, chosen)


def _no_rows(positions: Sequence[int]) -> list[Row]:
    return []  # an undo's plan comes from the journal, not from rows of the grid


def _plain(value: str, cap: int = 60) -> Text:
    """A cell of remote text: inert, never markup, and short enough for a table column."""
    shown = inert(value[: cap * 2])
    return Text(shown if len(shown) <= cap else shown[: cap - 1] + "…")
