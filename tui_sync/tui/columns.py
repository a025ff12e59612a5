"""The columns of the discrepancy grid: how wide each is, and what text and class a cell gets.

Pure functions over `model.Row` (no Textual here), so the grid widget holds only the Line-API
mechanics and these rules can be read, and tested, on their own. Everything here runs only for
the rows on screen, so it can afford plain Python. Every text from a row is remote, hence hostile:
it goes through `inert` before it is measured, so what we count is what the terminal draws.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from rich.cells import cell_len, set_cell_size

from tui_sync.model import CODES, Field, Item, Row, Status
from tui_sync.text import inert

Align = Literal["left", "right", "center"]

GAP = " "  # between two columns
MARK_WIDTH = 2  # cursor bar + selection tick: both legible without colour
SKU_FLOOR, SKU_CAP = 12, 24  # the SKU column fits the pair's longest SKU, within these
SKU_DEFAULT = 17  # before the longest SKU is known
NAME_MIN = 8  # "Product…": a hint of the name; row detail shows it whole
NAME_WIDE = 30  # the value columns get their long titles only if the name keeps this much
NAME_BEFORE_COST = 20  # without details, cost columns come only once the name keeps this much
STATUS_WIDTH = 16  # "Back office only", "Stock+price+cost"
MISSING = "—"  # the side has no item at all (unmatched row); "" means the item has no value
CURSOR_BAR = "▌"
TICK = "✓"  # U+2713 is one cell everywhere; "●" is East-Asian ambiguous and may take two
ELLIPSIS = "…"


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    title: str
    width: int
    align: Align = "left"


@dataclass(frozen=True, slots=True)
class Layout:
    """The columns for one content width; `pinned` cells stay put when scrolling horizontally."""

    available: int
    details: bool
    sku_width: int
    columns: tuple[Column, ...]
    width: int
    pinned: int

    def stops(self) -> list[int]:
        """Horizontal scroll offsets at which a scrolling column starts (for ← and →)."""
        out, x = [], 0
        for column in self.columns:
            if x >= self.pinned:
                out.append(x - self.pinned)
            x += column.width + len(GAP)
        return out


def _pair(key: str, store: str, backoffice: str, width: int) -> tuple[Column, Column]:
    return (
        Column(f"store_{key}", store, width, "right"),
        Column(f"backoffice_{key}", backoffice, width, "right"),
    )


# Short titles fit 80 columns with a 9-cell name; the long ones are used when there is room.
_NARROW = {
    "qty": _pair("qty", "St qty", "BO qty", 6),
    "price": _pair("price", "St price", "BO price", 8),
    "cost": _pair("cost", "St cost", "BO cost", 8),
}
_WIDE = {
    "qty": _pair("qty", "Store qty", "BO qty", 9),
    "price": _pair("price", "Store price", "BO price", 11),
    "cost": _pair("cost", "Store cost", "BO cost", 11),
}
STATUS_COLUMN = Column("status", "Status", STATUS_WIDTH)
CODE_COLUMNS = tuple(Column(f"code:{code}", code, len(code), "center") for code in CODES)


def _span(columns: tuple[Column, ...]) -> int:
    """Cells taken by these columns, each followed by its gap."""
    return sum(c.width + len(GAP) for c in columns)


def layout(available: int, details: bool, longest_sku: int = SKU_DEFAULT) -> Layout:
    """Fit the columns to `available` cells.

    Without details: SKU, name, quantity and price pairs, status; cost pairs once the name keeps
    NAME_BEFORE_COST cells. With details every code column must be on screen, so the name goes
    first, then the cost, price and quantity pairs (row detail shows them all). The SKU column
    is as wide as the pair's longest SKU (within SKU_FLOOR..SKU_CAP); longer ones are shortened
    in the middle. Only when even the fixed columns do not fit does the grid scroll sideways.
    """
    codes = CODE_COLUMNS if details else ()
    mark = Column("mark", "", MARK_WIDTH)
    fixed = _span((mark, STATUS_COLUMN, *codes)) - len(GAP)  # the last column has no gap
    want_sku = max(SKU_FLOOR, min(longest_sku, SKU_CAP))
    groups: list[tuple[Column, ...]] = []
    name = 0
    if details:
        room = available - fixed - (want_sku + len(GAP))
        sku = want_sku if room >= 0 else max(SKU_FLOOR, want_sku + room)
        room = max(0, room)
        for key in ("qty", "price", "cost"):
            if _span(_NARROW[key]) <= room:
                groups.append(_NARROW[key])
                room -= _span(_NARROW[key])
        if room >= NAME_MIN + len(GAP):
            name = room - len(GAP)
    else:
        values = _WIDE
        if available - fixed - want_sku - _span(_WIDE["qty"] + _WIDE["price"]) < NAME_WIDE:
            values = _NARROW
        groups = [values["qty"], values["price"]]
        room = available - fixed - _span(groups[0] + groups[1]) - 2 * len(GAP)
        # The name keeps NAME_MIN; the SKU takes what it needs of the rest, the name the others.
        sku = max(SKU_FLOOR, min(want_sku, room - NAME_MIN))
        name = room - sku
        if name - _span(values["cost"]) >= NAME_BEFORE_COST:
            groups.append(values["cost"])
            name -= _span(values["cost"])
        name = max(NAME_MIN, name)
    columns = (
        mark,
        Column("sku", "SKU", sku),
        *((Column("name", "Name", name),) if name else ()),
        *(c for group in groups for c in group),
        STATUS_COLUMN,
        *codes,
    )
    width = _span(columns) - len(GAP)
    return Layout(available, details, longest_sku, columns, width, _span(columns[:2]))


def _printable(text: str) -> str:
    text = inert(text)
    # inert leaves no controls; a stray tab or newline from elsewhere must not break a line.
    return text if text.isprintable() else "".join(c if c.isprintable() else " " for c in text)


def fit(text: str, width: int, align: Align = "left") -> str:
    """Exactly `width` cells: made inert, truncated with an ellipsis, padded away from `align`."""
    text = _printable(text[: width * 8 + 8])  # never measure a 10,000-character name whole
    size = len(text) if text.isascii() else cell_len(text)
    if size > width:
        if width <= 1:
            return set_cell_size(text, width)
        # A wide character that does not fit leaves a blank: put it after the ellipsis.
        text = set_cell_size(text, width - 1).rstrip() + ELLIPSIS
        size = cell_len(text)
    pad = width - size
    if align == "right":
        return " " * pad + text
    if align == "center":
        return " " * (pad // 2) + text + " " * (pad - pad // 2)
    return text + " " * pad


def fit_middle(text: str, width: int) -> str:
    """Exactly `width` cells, shortened in the middle so both ends of a SKU stay readable:
    `SOCK-42164-BLK-XXL` and `SOCK-42164-BLK-XL` never look the same."""
    text = _printable(text)
    size = cell_len(text)
    if size <= width:
        return text + " " * (width - size)
    if width < 5:
        return fit(text, width)
    tail_cells = (width - 1) // 2 + (width - 1) % 2  # the variant end gets the odd cell
    head = set_cell_size(text, width - 1 - tail_cells).rstrip()
    tail, cells = "", 0
    for char in reversed(text):
        char_cells = cell_len(char)
        if cells + char_cells > tail_cells:
            break
        tail, cells = char + tail, cells + char_cells
    shown = head + ELLIPSIS + tail
    return shown + " " * (width - cell_len(shown))


STATUS_CLASSES: dict[Status, str] = {
    Status.IN_SYNC: "grid--status-in-sync",
    Status.OUT_OF_SYNC: "grid--status-out-of-sync",
    Status.IN_ORDERS: "grid--status-in-orders",
    Status.BASE: "grid--status-base",
    Status.STORE_ONLY: "grid--status-unmatched",
    Status.BACKOFFICE_ONLY: "grid--status-unmatched",
    Status.DUPLICATE_SKU: "grid--status-duplicate",
}
# What an N means for a seller: stock/price/cost that a sync closes (an error), a name, brand or
# variant difference that a sync does not touch (a warning), or information: NS is intentional,
# QP settles by itself once the orders are posted.
CODE_KIND = {"Q": "n", "QN": "n", "P": "n", "C": "n", "N": "warn", "B": "warn", "IV": "warn"}
CODE_CLASSES: dict[str, str] = {
    "S": "grid--code-s",
    "I": "grid--code-intended",
    "n": "grid--code-n",
    "warn": "grid--code-warn",
    "info": "grid--code-info",
    "-": "grid--code-none",
}
# Classes that colour a cell's text; the row's background comes from the row classes.
CELL_CLASSES: tuple[str, ...] = (
    *sorted(set(STATUS_CLASSES.values())),
    *CODE_CLASSES.values(),
    "grid--mark",
    "grid--missing",
    "grid--differs",
)

Cell = tuple[str, str | None]  # fitted text (with its trailing gap), component class

_DIFFERS = (("Q", "Stock"), ("QN", "Stock"), ("P", "Price"), ("C", "Cost"))
_STATUS_WORDS = {
    Status.IN_ORDERS: "Stock in orders",
    Status.BASE: "Base product",
}


def status_text(row: Row) -> str:
    """The status in a seller's words: what differs (stock, price, cost), not only that it does."""
    if row.status is Status.OUT_OF_SYNC:
        parts: list[str] = []
        for code, word in _DIFFERS:
            if row.cells.get(code) == "N" and word not in parts:
                parts.append(word)
        if row.cells.get("QN") == "N" and parts == ["Stock"]:
            return "BO stock below 0"
        if len(parts) == 1:
            return f"{parts[0]} differs"
        if parts:
            return "+".join([parts[0], *(p.lower() for p in parts[1:])])
    if row.status is Status.IN_SYNC and any(c == "I" for c in row.cells.values()):
        return "Intended"  # in sync but for what the seller marked as intended (`I`)
    return _STATUS_WORDS.get(row.status, row.status.label)


def code_class(code: str, cell: str) -> str:
    if cell != "N":
        return CODE_CLASSES[cell if cell in ("S", "I", "-") else "-"]
    return CODE_CLASSES[CODE_KIND.get(code, "info")]


def _value(
    item: Item | None, read: Callable[[Item], int | Decimal | None], differs: bool
) -> tuple[str, str | None]:
    if item is None:
        return MISSING, "grid--missing"
    value = read(item)
    return ("" if value is None else str(value)), ("grid--differs" if differs else None)


_VALUE_CODES = {"qty": ("Q", "QN"), "price": ("P",), "cost": ("C",)}
_VALUE_FIELDS: dict[str, Field] = {"qty": "quantity", "price": "price", "cost": "cost"}


def _text(row: Row, key: str, cursor: bool, selected: bool) -> tuple[str, str | None]:
    if key == "mark":
        return (CURSOR_BAR if cursor else " ") + (TICK if selected else " "), "grid--mark"
    if key == "sku":
        return row.sku, None
    if key == "name":
        return row.name, None
    if key == "status":
        return status_text(row), STATUS_CLASSES[row.status]
    if key.startswith("code:"):
        code = key[5:]
        cell = row.cells.get(code, "-")
        return cell, code_class(code, cell)
    # Values are marked where their cell says they differ, so the discrepancy is visible at 80
    # columns without the code columns.
    side, _, what = key.partition("_")
    item = row.store if side == "store" else row.backoffice
    differs = any(row.cells.get(code) == "N" for code in _VALUE_CODES[what])
    field = _VALUE_FIELDS[what]
    text, css = _value(item, lambda i: i.value(field), differs)
    if css is None and row.cells.get(_VALUE_CODES[what][0]) == "I":
        css = "grid--code-intended"  # differs (or may) on purpose: not the red of a discrepancy
    return text, css


def row_cells(row: Row, columns: tuple[Column, ...], cursor: bool, selected: bool) -> list[Cell]:
    """The cells of one row, each padded to its column and followed by the gap."""
    last = len(columns) - 1
    out: list[Cell] = []
    for i, column in enumerate(columns):
        text, css = _text(row, column.key, cursor, selected)
        if column.key == "sku":
            text = fit_middle(text, column.width)
        else:
            text = fit(text, column.width, column.align)
        out.append((text if i == last else text + GAP, css))
    return out


def header_cells(columns: tuple[Column, ...]) -> str:
    return GAP.join(fit(c.title, c.width, c.align) for c in columns)
