"""The columns of the discrepancy grid: how wide each is, and what text and class a cell gets.

Pure functions over `model.Row` (no Textual here), so the grid widget holds only the Line-API
mechanics and these rules can be read, and tested, on their own. Everything here runs only for
the rows on screen, so it can afford plain Python.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from rich.cells import cell_len, set_cell_size

from tui_sync.model import CODES, Item, Row, Status

Align = Literal["left", "right", "center"]

GAP = " "  # between two columns
MARK_WIDTH = 2  # cursor bar + selection tick: both legible without colour
SKU_MIN, SKU_MAX = 17, 24  # variant SKUs such as TEE-0042-RED-M stay whole at 80 columns
NAME_MIN = 9
NAME_WIDE = 30  # the value columns get their long titles only if the name keeps this much
MISSING = "—"  # the side has no item at all (unmatched row); "" means the item has no value
CURSOR_BAR = "▌"
TICK = "✓"  # U+2713 is one cell everywhere; "●" is East-Asian ambiguous and may take two


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
    columns: tuple[Column, ...]
    width: int
    pinned: int


# Short titles fit 80 columns with a 14-cell name; the long ones are used when there is room.
_NARROW = (
    Column("store_qty", "St qty", 6, "right"),
    Column("backoffice_qty", "BO qty", 6, "right"),
    Column("store_price", "St price", 8, "right"),
    Column("backoffice_price", "BO price", 8, "right"),
    Column("status", "Status", 16),  # "Back office only"
)
_WIDE = (
    Column("store_qty", "Store qty", 9, "right"),
    Column("backoffice_qty", "BO qty", 9, "right"),
    Column("store_price", "Store price", 11, "right"),
    Column("backoffice_price", "BO price", 11, "right"),
    Column("status", "Status", 16),
)
CODE_COLUMNS = tuple(Column(f"code:{code}", code, len(code), "center") for code in CODES)


def _span(columns: tuple[Column, ...]) -> int:
    return sum(c.width for c in columns) + len(GAP) * max(0, len(columns) - 1)


def layout(available: int, details: bool) -> Layout:
    """Fit the columns to `available` cells: the name takes the spare width (never under
    NAME_MIN); when even that does not fit (details on a narrow terminal) the grid scrolls."""
    codes = CODE_COLUMNS if details else ()
    gaps = 3 * len(GAP)  # after the mark, the SKU and the name
    values = _WIDE
    if available - MARK_WIDTH - SKU_MIN - _span(_WIDE + codes) - gaps < NAME_WIDE:
        values = _NARROW
    spare = available - MARK_WIDTH - _span(values + codes) - gaps - SKU_MIN - NAME_MIN
    # Past a 20-cell name, long SKUs get a third of what is left; the name gets the rest.
    sku = SKU_MIN + min(max((spare - 10) // 3, 0), SKU_MAX - SKU_MIN)
    rest = MARK_WIDTH + sku + _span(values + codes) + gaps
    name = max(NAME_MIN, available - rest)
    columns = (
        Column("mark", "", MARK_WIDTH),
        Column("sku", "SKU", sku),
        Column("name", "Name", name),
        *values,
        *codes,
    )
    return Layout(available, details, columns, _span(columns), MARK_WIDTH + sku + 2 * len(GAP))


def fit(text: str, width: int, align: Align = "left") -> str:
    """Exactly `width` cells: truncated with an ellipsis, padded on the side away from `align`."""
    if not text.isprintable():  # a tab or newline in a product name would break the line
        text = "".join(ch if ch.isprintable() else " " for ch in text)
    size = len(text) if text.isascii() else cell_len(text)
    if size > width:
        if width <= 1:
            return set_cell_size(text, width)
        # A wide character that does not fit leaves a blank: put it after the ellipsis.
        text = set_cell_size(text, width - 1).rstrip() + "…"
        size = cell_len(text)
    pad = width - size
    if align == "right":
        return " " * pad + text
    if align == "center":
        return " " * (pad // 2) + text + " " * (pad - pad // 2)
    return text + " " * pad


STATUS_CLASSES: dict[Status, str] = {
    Status.IN_SYNC: "grid--status-in-sync",
    Status.OUT_OF_SYNC: "grid--status-out-of-sync",
    Status.IN_ORDERS: "grid--status-in-orders",
    Status.BASE: "grid--status-base",
    Status.STORE_ONLY: "grid--status-unmatched",
    Status.BACKOFFICE_ONLY: "grid--status-unmatched",
    Status.DUPLICATE_SKU: "grid--status-duplicate",
}
CODE_CLASSES: dict[str, str] = {"S": "grid--code-s", "N": "grid--code-n", "-": "grid--code-none"}
# Classes that colour a cell's text; the row's background comes from the row classes.
CELL_CLASSES: tuple[str, ...] = (
    *sorted(set(STATUS_CLASSES.values())),
    *CODE_CLASSES.values(),
    "grid--mark",
    "grid--missing",
    "grid--differs",
)

Cell = tuple[str, str | None]  # fitted text (with its trailing gap), component class


def _value(
    item: Item | None, read: Callable[[Item], int | Decimal | None], differs: bool
) -> tuple[str, str | None]:
    if item is None:
        return MISSING, "grid--missing"
    value = read(item)
    return ("" if value is None else str(value)), ("grid--differs" if differs else None)


def _text(row: Row, key: str, cursor: bool, selected: bool) -> tuple[str, str | None]:
    if key == "mark":
        return (CURSOR_BAR if cursor else " ") + (TICK if selected else " "), "grid--mark"
    if key == "sku":
        return row.sku, None
    if key == "name":
        return row.name, None
    if key == "status":
        return row.status.label, STATUS_CLASSES[row.status]
    if key.startswith("code:"):
        code = row.cells.get(key[5:], "-")
        return code, CODE_CLASSES[code]
    # Quantity and price values are marked where their cell says they differ, so the discrepancy
    # is visible at 80 columns without the code columns.
    cells = row.cells
    if key.endswith("qty"):
        differs = cells.get("Q") == "N" or cells.get("QN") == "N"
        item = row.store if key == "store_qty" else row.backoffice
        return _value(item, lambda i: i.quantity, differs)
    item = row.store if key == "store_price" else row.backoffice
    return _value(item, lambda i: i.price, cells.get("P") == "N")


def row_cells(row: Row, columns: tuple[Column, ...], cursor: bool, selected: bool) -> list[Cell]:
    """The cells of one row, each padded to its column and followed by the gap."""
    last = len(columns) - 1
    out: list[Cell] = []
    for i, column in enumerate(columns):
        text, css = _text(row, column.key, cursor, selected)
        text = fit(text, column.width, column.align)
        out.append((text if i == last else text + GAP, css))
    return out


def header_cells(columns: tuple[Column, ...]) -> str:
    return GAP.join(fit(c.title, c.width, c.align) for c in columns)
