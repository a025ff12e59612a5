"""The words of DESIGN.md section 1 as plain dataclasses: what flows from connectors to the grid.

Nothing here does I/O. Money is always `Decimal`; quantities are `int`, or `Decimal` where a
system keeps fractions (money.py is the one codec for both).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from tui_sync.money import Number, Quantity

Side = Literal["store", "backoffice"]
SIDES: tuple[Side, Side] = ("store", "backoffice")

Field = Literal["quantity", "price", "cost"]
FIELDS: tuple[Field, ...] = ("quantity", "price", "cost")

# The cell codes of DESIGN.md section 4, in the order the grid and `diff --json` show them.
CODES: tuple[str, ...] = ("N", "NS", "IV", "B", "Q", "QP", "QN", "P", "C")
CODE_MEANING: dict[str, str] = {
    "N": "name differs",
    "NS": "name differs only by the appended SKU",
    "IV": "variant structure differs",
    "B": "brand differs",
    "Q": "quantity differs",
    "QP": "quantity differs by the pending orders",
    "QN": "back-office quantity is negative",
    "P": "price differs",
    "C": "cost differs",
}

# S and N as in DESIGN.md section 4; I: a difference the seller marked as intended (`ignore`):
# never synced, never out of sync, shown as its own letter.
Cell = Literal["S", "N", "I", "-"]
# The cells that score each field, and those that make a row out of sync.
FIELD_CODES: dict[Field, tuple[str, ...]] = {
    "quantity": ("Q", "QP", "QN"),
    "price": ("P",),
    "cost": ("C",),
}


class Status(StrEnum):
    """A row's verdict. Declaration order is precedence order (first wins)."""

    BASE = "base"
    STORE_ONLY = "store_only"
    BACKOFFICE_ONLY = "backoffice_only"
    DUPLICATE_SKU = "duplicate_sku"
    IN_ORDERS = "in_orders"
    OUT_OF_SYNC = "out_of_sync"
    IN_SYNC = "in_sync"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS: dict[Status, str] = {
    Status.BASE: "Base",
    Status.STORE_ONLY: "Store only",
    Status.BACKOFFICE_ONLY: "Back office only",
    Status.DUPLICATE_SKU: "Duplicate SKU",
    Status.IN_ORDERS: "In Orders",
    Status.OUT_OF_SYNC: "Out of sync",
    Status.IN_SYNC: "In sync",
}


def other_side(side: Side) -> Side:
    return "backoffice" if side == "store" else "store"


def side_label(side: Side) -> str:
    return "store" if side == "store" else "back office"


@dataclass(frozen=True, slots=True)
class Item:
    """One sellable SKU on one side, or a base item (a parent that only groups variants)."""

    id: str
    sku: str | None
    name: str
    brand: str | None = None
    quantity: Quantity | None = None
    price: Decimal | None = None
    cost: Decimal | None = None
    parent_id: str | None = None
    is_base: bool = False
    # Variant options as (name, value) pairs, e.g. (("Color", "Red"), ("Size", "M")).
    options: tuple[tuple[str, str], ...] = ()
    # The connector's concurrency token (QuickBooks SyncToken, a version counter, ...), opaque
    # to the core; a connector with several (a catalog version for price, none for stock)
    # packs them into this one string.
    version: str | None = None
    # The connector's own reference for writing this item, opaque to the core (Shopify: the
    # variant id for price, the inventory item and location for stock). None: `id` is enough.
    ref: str | None = None

    def value(self, field_name: Field) -> Number | None:
        if field_name == "quantity":
            return self.quantity
        if field_name == "price":
            return self.price
        return self.cost


@dataclass(frozen=True, slots=True)
class PendingLine:
    """One line of a store order that takes stock and that the back office has not posted yet."""

    order_id: str
    sku: str
    quantity: Quantity
    status: str = ""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a connector can read and write; the plan and the cells honour it."""

    writable: frozenset[Field] = frozenset({"quantity", "price", "cost"})
    # True when one call can write several fields of one item; False means one field per call.
    multi_field_write: bool = True
    batch_size: int = 50
    # False for stores such as BigCommerce, whose inventory level cannot go below zero.
    negative_quantity: bool = False
    # False where stock is kept in whole units only; a fraction sent there is refused, named.
    fractional_quantity: bool = False
    # Decimals the side keeps for prices and costs; a value is written as the side holds it.
    money_places: int = 2
    # ISO 4217 code of the side's prices when known; two different ones refuse price writes.
    currency: str | None = None
    has_brand: bool = True
    has_cost: bool = True
    has_options: bool = True
    # How many items one `read_current` call may ask for, and how many requests (pages,
    # batches) may be in flight at once without passing the API's rate limit.
    read_batch: int = 100
    max_in_flight: int = 4
    # True when `read_items(since=...)` returns only what changed since a watermark.
    incremental: bool = False
    # Seconds a write the API accepted may take to show in a read (BigCommerce applies stock
    # adjustments asynchronously): a lost answer is read back until then before a value still
    # as before is called "not applied".
    applies_within_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Change:
    """One field write of a plan: the value read before and the value to write.

    `id` is the change's journal sequence number within its run: results are matched by it,
    never by position. `key` is the row the change belongs to; `source_id` the item on the other
    side the value comes from (None for an undo, whose source is the journal)."""

    sku: str
    side: Side
    item_id: str
    field: Field
    before: Number | None
    after: Number | None
    version: str | None = None
    ref: str | None = None
    key: str = ""
    source_id: str | None = None
    # The source's value when planned (before rounding to what the target holds): applying
    # re-reads the source and refuses to write a value that moved since.
    source_value: Number | None = None
    id: int = 0


ChangeResult = Literal["done", "conflict", "refused", "failed", "unknown"]

# What a connector says of one change, typed so that the core knows what is safe:
#   done        written; `value` is what the target now holds (it may have rounded)
#   conflict    not written: the target's value is not `before` any more (`value` says what it is)
#   not_sent    the request never left (refused before sending, connection refused): safe to retry
#   unknown     sent, no answer (timeout, reset): stays unknown until a read settles it
#   throttled   not written, the API asks to come back in `retry_after` seconds
#   auth_failed the credentials were refused: nothing more can be written in this run
#   rejected    the API refused this change (a 4xx): `reason` names the SKU and field
Outcome = Literal["done", "conflict", "not_sent", "unknown", "throttled", "auth_failed", "rejected"]


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a connector says of one change it was asked to write, matched by `change_id`."""

    change_id: int
    outcome: Outcome
    reason: str | None = None
    # The value the target confirms holding after the write (done), or holds now (conflict).
    value: Number | None = None
    # The item's concurrency token after the write, when the connector knows it: the next
    # write of the same item in this run carries it.
    version: str | None = None
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class Batch:
    """Changes sent in one request. `key` is journaled before sending and reused on a retry,
    so an API that honours idempotency keys never applies one batch twice."""

    key: str
    changes: tuple[Change, ...]


@dataclass(frozen=True, slots=True)
class Refusal:
    """A field of a selected row that the plan will not write, and why (never silent)."""

    sku: str
    field: Field | None
    reason: str


@dataclass(slots=True)
class Plan:
    pair: str
    target: Side
    fields: tuple[Field, ...]
    changes: list[Change] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    # Selected rows whose fields already agree: nothing to write.
    unchanged: int = 0
    # Notes on values written as the target holds them (rounded within tolerance).
    notes: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not self.changes


@dataclass(frozen=True, slots=True)
class Intent:
    """A seller's mark that a field of a row (or the whole SKU) differs on purpose."""

    field: Field | None  # None: the whole SKU (every field)
    note: str
    marked_at: str  # UTC, ISO 8601

    def covers(self, field_name: Field) -> bool:
        return self.field is None or self.field == field_name

    @property
    def what(self) -> str:
        return self.field or "whole SKU"


@dataclass(frozen=True, slots=True)
class QuantityBuffer:
    """A pair's `quantity_buffer`: the store is kept this far below the master's quantity, to
    absorb orders that land between two syncs. `units` whole units, or `share` of the master's
    quantity (a fraction: "5%" is 0.05), rounded down to whole units: 5 % of 30 is 1.5, so one
    unit is held back and the store gets 29. Never below 0; a master at or below 0 is left as
    it is (QN, not the buffer, speaks for a negative quantity)."""

    units: int = 0
    share: Decimal = Decimal(0)

    def held_back(self, master: Quantity) -> Quantity:
        if master <= 0:
            return 0
        return self.units + int(Decimal(master) * self.share)  # int() of a positive: floor

    def apply(self, master: Quantity) -> Quantity:
        """The quantity the store should hold for this master quantity."""
        if master <= 0:
            return master
        return max(0, master - self.held_back(master))

    def __str__(self) -> str:
        if self.share:
            return f"{(self.share * 100).normalize():f}%"
        return str(self.units)


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the discrepancy grid: a match (or an unmatched item) with its cells."""

    pos: int
    key: str
    sku: str
    name: str
    status: Status
    cells: dict[str, Cell]
    store: Item | None
    backoffice: Item | None
    pending_quantity: Quantity = 0
    # The seller's intended differences on this row (`ignore`): never planned.
    intended: tuple[Intent, ...] = ()

    def side(self, side: Side) -> Item | None:
        return self.store if side == "store" else self.backoffice

    def intent(self, field_name: Field) -> Intent | None:
        """The mark that makes this field an intended difference, if any."""
        return next((i for i in self.intended if i.covers(field_name)), None)

    @property
    def is_out_of_sync(self) -> bool:
        return any(self.cells[c] == "N" for c in ("Q", "QN", "P", "C"))
