"""The run log: every sync and undo, newest first, and the changes of the highlighted run."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Label

from tui_sync import journal
from tui_sync.cache import Cache
from tui_sync.text import inert

RUNS_SHOWN = 200


class RunLogScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,l", "dismiss", "Close")]  # noqa: RUF012

    def __init__(self, cache: Cache, pair: str) -> None:
        super().__init__()
        self.runs = journal.runs(cache, pair=pair, limit=RUNS_SHOWN)

    def compose(self) -> ComposeResult:
        with Vertical(id="log"):
            yield Label("[b]Run log[/b]  (Esc closes)")
            yield DataTable(id="runs", cursor_type="row")
            yield DataTable(id="changes", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        runs = self.query_one("#runs", DataTable)
        runs.add_columns(
            "run", "kind", "started", "state", "to", "fields", "done", "bad", "unknown", "refused"
        )
        for run in self.runs:
            # "bad": conflicts and failures; "unknown": sent, never settled (recovery reads
            # them back at the next sync, undo or refresh).
            bad = run.count("conflict") + run.count("failed")
            # DataTable parses a str cell as markup: every cell goes in as plain Text.
            runs.add_row(
                _plain(run.run_id),
                _plain(run.kind),
                _plain(run.started.replace("T", " ").rstrip("Z")),
                _plain(run.state),
                _plain(run.target or "-"),
                _plain(run.fields),
                run.count("done"),
                bad,
                run.count("unknown"),
                run.count("refused"),
                key=run.run_id,
            )
        self.query_one("#changes", DataTable).add_columns(
            "sku", "side", "field", "before", "after", "result", "reason"
        )
        if not self.runs:
            self.query_one(Label).update("[b]Run log[/b]  no runs yet (Esc closes)")
        runs.focus()

    @on(DataTable.RowHighlighted, "#runs")
    def _show_changes(self, event: DataTable.RowHighlighted) -> None:
        table = self.query_one("#changes", DataTable)
        table.clear()
        run = next((r for r in self.runs if r.run_id == event.row_key.value), None)
        if run is None:
            return
        for e in run.changes:
            table.add_row(
                _plain(e.sku),
                _plain(e.side),
                _plain(e.field or "-"),
                _plain(e.before or ""),
                # What the target confirmed holding, where it said (it may have rounded).
                _plain((e.written if e.result == "done" else e.after) or ""),
                _plain(e.result),
                _plain(e.reason or ""),
            )


def _plain(value: str, cap: int = 60) -> Text:
    """A cell of remote text: inert, never markup, and short enough for a table column."""
    shown = inert(value[: cap * 2])
    return Text(shown if len(shown) <= cap else shown[: cap - 1] + "…")
