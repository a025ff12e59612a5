"""The triage dialogs: choose a sort (`o`), go to a SKU (`g`, and the offer to show it in All),
and the breakdown of a view (`F`), whose lines show only (Enter) or select (space) their rows.

None of them reads rows on the UI thread: the breakdown is counted by a thread worker on a
connection of its own (`count` is called there), the others only carry a choice back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label, OptionList
from textual.widgets.option_list import Option

from tui_sync.breakdown import Line
from tui_sync.text import inert
from tui_sync.views import SORTS, Narrowing, Sort

_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: auto; max-width: 90%; height: auto; max-height: 90%;
    border: round $primary; background: $surface; padding: 0 1;
}}
"""


class SortScreen(ModalScreen[Sort | None]):
    """The sorts of the view, the current one highlighted; Enter chooses, Esc keeps it."""

    DEFAULT_CSS = _CSS.format(name="SortScreen")
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,o", "dismiss(None)", "Close")]

    def __init__(self, current: Sort) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text("Sort the view by (O reverses, Esc closes)", style="bold"))
            yield OptionList(*(Option(s.label, id=s.key) for s in SORTS), id="sorts")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = SORTS.index(self.current)
        options.focus()

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(SORTS[event.option_index])


class GotoScreen(ModalScreen[str | None]):
    """A SKU, or the start of one, or some of its characters in order."""

    DEFAULT_CSS = _CSS.format(name="GotoScreen") + "GotoScreen Input { width: 50; }"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Close")]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text("Go to SKU (its start, or letters in order; Esc closes)"))
            yield Input(placeholder="SKU", id="goto")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value if event.value.strip() else None)


class OfferAllScreen(ModalScreen[bool]):
    """The SKU found is not in the view: show it in All (Enter, y) or stay (Esc, n)."""

    DEFAULT_CSS = _CSS.format(name="OfferAllScreen")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,y", "dismiss(True)", "Show in All"),
        Binding("escape,n", "dismiss(False)", "Stay"),
    ]

    def __init__(self, sku: str, view: str) -> None:
        super().__init__()
        self.sku = sku
        self.view = view

    def compose(self) -> ComposeResult:
        message = Text(f"{inert(self.sku)} is not in the view “{inert(self.view)}”.\n")
        message.append("Enter: show it in All · Esc: stay here")
        with Vertical():
            yield Label(message, id="offer")


class BreakdownScreen(ModalScreen[Narrowing | None]):
    """The view's rows by code, size of gap and brand. Enter: show only a line's rows (the
    screen closes); space: add them to the selection (it stays open)."""

    DEFAULT_CSS = (
        _CSS.format(name="BreakdownScreen")
        + "BreakdownScreen DataTable { height: auto; max-height: 30; }"
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,F", "dismiss(None)", "Close"),
        Binding("space", "select_line", "Select these rows"),
    ]

    def __init__(
        self,
        title: str,
        count: Callable[[], Sequence[Line]],
        select: Callable[[Narrowing], None],
    ) -> None:
        super().__init__()
        self.title_text = title
        self.count = count  # called on a thread worker: it scans the view's rows
        self.select = select
        self.lines: list[Line] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(self.title_text, style="bold"))
            yield Label(Text("Enter: show only these · space: select them · Esc: close"))
            yield Label(Text("Counting…"), id="counting")
            yield DataTable(id="lines", cursor_type="row")

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("by", "value", "rows")
        self._count_worker()

    @work(thread=True, exit_on_error=False)
    def _count_worker(self) -> None:
        try:
            lines = list(self.count())
        except Exception as exc:  # one line on screen, never a traceback
            self.app.call_from_thread(self._failed, str(exc).splitlines()[0] if str(exc) else "")
            return
        self.app.call_from_thread(self._counted, lines)

    def _failed(self, error: str) -> None:
        self.query_one("#counting", Label).update(Text(f"Counting failed: {inert(error)}"))

    def _counted(self, lines: list[Line]) -> None:
        self.lines = lines
        table = self.query_one(DataTable)
        for i, line in enumerate(lines):
            table.add_row(Text(line.group), Text(inert(line.value)), f"{line.count:,}", key=str(i))
        label = self.query_one("#counting", Label)
        label.update(Text("" if lines else "No rows in this view"))
        label.display = not lines
        table.focus()

    def _line(self) -> Line | None:
        table = self.query_one(DataTable)
        if not self.lines or not 0 <= table.cursor_row < len(self.lines):
            return None
        return self.lines[table.cursor_row]

    @on(DataTable.RowSelected)
    def _chosen(self) -> None:
        line = self._line()
        if line is not None:
            self.dismiss(line.narrowing)

    def action_select_line(self) -> None:
        line = self._line()
        if line is not None:
            self.select(line.narrowing)
