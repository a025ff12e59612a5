"""Both sides of one row, field by field, with each discrepancy's reason."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui_sync.cache import Cache, options_text
from tui_sync.model import CODES, Item, Row
from tui_sync.reconcile import reasons


def _value(item: Item | None, name: str) -> str:
    if item is None:
        return "—"
    if name == "options":
        return options_text(item.options) or ""
    value = getattr(item, name)
    return "" if value is None else escape(str(value))


def detail_text(row: Row, pending: list[tuple[str, int, str]]) -> str:
    lines = [f"[b]{escape(row.sku)}[/b]  {row.status.label}", ""]
    lines.append(f"  {'':<10} {'store':<30} {'back office':<30}")
    for name in ("id", "name", "brand", "quantity", "price", "cost", "options", "version"):
        store, backoffice = _value(row.store, name)[:30], _value(row.backoffice, name)[:30]
        lines.append(f"  {name:<10} {store:<30} {backoffice:<30}")
    cells = " ".join(
        f"{code}:[{'$error' if row.cells[code] == 'N' else '$success'}]{row.cells[code]}[/]"
        for code in CODES
    )
    lines += ["", f"  {cells}", "", "[b]Why[/b]"]
    lines += [f"  • {escape(reason)}" for reason in reasons(row)] or ["  in sync"]
    if pending:
        lines += ["", "[b]Pending orders[/b]"]
        lines += [f"  order {o}: {q} ({s})" for o, q, s in pending]
    return "\n".join(lines)


class RowDetailScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,enter,q", "dismiss", "Close")]  # noqa: RUF012

    def __init__(self, row: Row, cache: Cache, pair: str) -> None:
        super().__init__()
        self.row = row
        key = row.key.split("#", 1)[0]
        self.pending = cache.pending_orders(pair, key) if row.pending_quantity else []

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail"):
            yield Static(detail_text(self.row, self.pending))
