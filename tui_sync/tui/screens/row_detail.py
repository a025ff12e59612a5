"""Both sides of one row, field by field, with each discrepancy's reason.

Every value here is remote text: rich `Text` made inert, in a table that takes the panel's
width (a `[` in a name is a bracket, an escape sequence is shown as ␛, never sent).

"Who set it" tells, per field tui-sync ever wrote on this row's items, whether the value read
since is still ours (the journal's last done write) or someone else changed it after.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from tui_sync import journal
from tui_sync.cache import Cache, options_text
from tui_sync.journal import LastWrite
from tui_sync.mapping import mapping_of_item
from tui_sync.model import CODES, Item, QuantityBuffer, Row, Side, side_label
from tui_sync.reconcile import reasons
from tui_sync.text import inert
from tui_sync.tui.columns import CODE_KIND, status_text

FIELDS = ("id", "name", "brand", "quantity", "price", "cost", "options", "version")
CELL_STYLES = {"n": "bold reverse", "warn": "bold underline", "info": "italic"}


def _value(item: Item | None, name: str) -> Text:
    if item is None:
        return Text("—", style="dim")
    if name == "options":
        return Text(inert(options_text(item.options)))
    value = getattr(item, name)
    return Text("" if value is None else inert(str(value)))


def _intended(row: Row) -> Text:
    marks = Text("Intended differences (never synced)\n", style="bold")
    for mark in row.intended:
        marks.append(f"  • {mark.what}, marked {mark.marked_at}")
        marks.append(f": {inert(mark.note)}\n" if mark.note else " (no note)\n")
    return marks


def last_writes(cache: Cache, pair: str, row: Row) -> list[LastWrite]:
    """Our last write of each field of the row's items: a lookup of their journal rows."""
    sides: tuple[tuple[Side, Item | None], ...] = (
        ("store", row.store),
        ("backoffice", row.backoffice),
    )
    writes: list[LastWrite] = []
    for side, item in sides:
        if item is not None:
            now = {name: item.value(name) for name in journal.WRITABLE_FIELDS}
            writes += journal.last_writes(cache, pair, side, item.id, now)
    return writes


def who_set_it(writes: list[LastWrite]) -> Text:
    text = Text("Who set it\n", style="bold")
    for w in writes:
        text.append(f"  {side_label(w.side)} {w.field}: ")
        if w.ours:
            text.append(f"last set by tui-sync in run {inert(w.run_id)}\n")
        else:
            text.append(f"changed by someone else since run {inert(w.run_id)}\n", style="bold")
            text.append(f"    (that run wrote {inert(str(w.written))})\n")
    return text


def detail_renderable(
    row: Row,
    pending: list[tuple[str, int, str]],
    mapped: tuple[str, str] | None = None,
    buffer: QuantityBuffer | None = None,
    writes: list[LastWrite] | None = None,
) -> RenderableType:
    head = Text(inert(row.sku), style="bold")
    head.append(f"  {row.status.label} · {status_text(row)}")
    if mapped is not None:
        head.append(f"\nMapped: store SKU {inert(mapped[0])} ↔ back-office SKU ")
        head.append(f"{inert(mapped[1])} (a manual mapping; M removes it)")
    table = Table(box=None, expand=True, pad_edge=False, padding=(0, 1, 0, 0))
    table.add_column("", width=9, no_wrap=True)
    table.add_column("store", ratio=1, no_wrap=True, overflow="ellipsis")
    table.add_column("back office", ratio=1, no_wrap=True, overflow="ellipsis")
    for name in FIELDS:
        table.add_row(name, _value(row.store, name), _value(row.backoffice, name))
        master = row.backoffice.quantity if row.backoffice is not None else None
        if name == "quantity" and buffer is not None and master is not None:
            # The store is compared with (and synced to) the master's quantity less the buffer.
            table.add_row(
                "buffered",
                Text(""),
                Text(f"{buffer.apply(master)} for the store (buffer {buffer})"),
            )
    cells = Text()
    for code in CODES:
        cell = row.cells[code]
        style = CELL_STYLES[CODE_KIND.get(code, "info")] if cell == "N" else ""
        style = "italic underline" if cell == "I" else style
        cells.append(f"{code}:")
        cells.append(cell, style=style)
        cells.append(" ")
    why = Text("Why\n", style="bold")
    found = reasons(row, buffer)
    for reason in found:
        why.append(f"  • {inert(reason)}\n")
    if not found:
        why.append("  in sync\n")
    parts: list[RenderableType] = [head, Text(""), table, Text(""), cells, Text(""), why]
    if row.intended:
        parts.append(_intended(row))
    if writes:
        parts.append(who_set_it(writes))
    if pending:
        orders = Text("Pending orders\n", style="bold")
        for order, quantity, state in pending:
            orders.append(f"  order {inert(order)}: {quantity} ({inert(state)})\n")
        parts.append(orders)
    return Group(*parts)


class RowDetailScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,enter,q", "dismiss", "Close")]  # noqa: RUF012

    def __init__(
        self, row: Row, cache: Cache, pair: str, buffer: QuantityBuffer | None = None
    ) -> None:
        super().__init__()
        self.row = row
        self.buffer = buffer
        key = row.key.split("#", 1)[0]
        self.pending = cache.pending_orders(pair, key) if row.pending_quantity else []
        self.mapped = None if row.store is None else mapping_of_item(cache, pair, row.store.id)
        self.writes = last_writes(cache, pair, row)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail"):
            shown = detail_renderable(self.row, self.pending, self.mapped, self.buffer, self.writes)
            yield Static(shown)
        yield Footer()
