"""`m`: pick the item of the other side an unmatched row is, ranked by likeness; `M`: confirm
removing a row's mapping.

The ranking (likeness.candidates_for) reads the cache and scores in Python: it runs in a thread
worker with its own connection, so a large unmatched set never holds the UI. Every SKU and name
here is remote text: rich `Text` made inert.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from tui_sync.cache import Cache
from tui_sync.likeness import Likeness, Unmatched, candidates_for
from tui_sync.model import side_label
from tui_sync.text import inert

_CSS = """
MapPicker, ConfirmUnmap { align: center middle; }
#picker, #unmap {
    width: 100%; max-width: 120; height: auto; max-height: 100%;
    border: thick $accent; background: $surface; padding: 0 1;
}
#unmap { max-width: 90; border: thick $warning; }
#picker-title { text-style: bold; }
#candidates { height: auto; max-height: 16; }
"""


def candidate_text(candidate: Unmatched, likeness: Likeness) -> Text:
    text = Text(f"{likeness.score:>3}  ", style="bold")
    text.append(inert(candidate.sku))
    text.append(f"  {inert(candidate.name)}", style="dim")
    if likeness.why:
        text.append(f"  · {inert(', '.join(likeness.why))}", style="italic")
    return text


class MapPicker(ModalScreen[Unmatched | None]):
    """The other side's unmatched items, most alike first; Enter maps the highlighted one."""

    DEFAULT_CSS = _CSS
    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, data_dir: Path, pair: str, item: Unmatched) -> None:
        super().__init__()
        self.data_dir = data_dir
        self.pair = pair
        self.item = item
        self.candidates: list[tuple[Unmatched, Likeness]] | None = None

    def compose(self) -> ComposeResult:
        other = side_label("backoffice" if self.item.side == "store" else "store")
        title = Text(f"Map {side_label(self.item.side)} SKU ", style="bold")
        title.append(inert(self.item.sku))
        title.append(f" ({inert(self.item.name)}) to an unmatched {other} item:")
        with Vertical(id="picker"):
            yield Static(title, id="picker-title")
            yield OptionList(id="candidates")
            yield Static("Ranking the unmatched items…", id="picker-status")
        yield Footer()

    def on_mount(self) -> None:
        self._rank()

    @work(thread=True, exit_on_error=False)
    def _rank(self) -> None:
        with Cache.open(self.data_dir) as cache:
            found = candidates_for(cache, self.pair, self.item)
        self.app.call_from_thread(self._show, found)

    def _show(self, found: list[tuple[Unmatched, Likeness]]) -> None:
        self.candidates = found
        options = self.query_one(OptionList)
        options.add_options(Option(candidate_text(c, like), id=str(c.rid)) for c, like in found)
        status = self.query_one("#picker-status", Static)
        if found:
            status.update("Enter maps the highlighted item; Esc cancels.")
            options.highlighted = 0
            options.focus()
        else:
            status.update("No unmatched item on the other side. Esc closes.")

    @on(OptionList.OptionSelected, "#candidates")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        for candidate, _ in self.candidates or []:
            if str(candidate.rid) == event.option.id:
                self.dismiss(candidate)
                return

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmUnmap(ModalScreen[bool]):
    """`M`: removing a mapping parts two items; y confirms, n or Esc keeps it."""

    DEFAULT_CSS = _CSS
    BINDINGS: ClassVar = [
        Binding("y", "confirm", "Unmap", key_display="y"),
        Binding("n,escape", "back", "Keep"),
    ]
    AUTO_FOCUS = None

    def __init__(self, store_key: str, backoffice_key: str) -> None:
        super().__init__()
        self.store_key = store_key
        self.backoffice_key = backoffice_key

    def compose(self) -> ComposeResult:
        text = Text("Remove the mapping of store SKU ", style="bold")
        text.append(inert(self.store_key))
        text.append(" to back-office SKU ")
        text.append(inert(self.backoffice_key))
        text.append("?\nBoth items become unmatched again and stop syncing.")
        text.append("\nPress y to unmap; n or Esc keeps it.")
        with Vertical(id="unmap"):
            yield Static(text)
        yield Footer()

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_back(self) -> None:
        self.dismiss(False)
