"""Intended differences: a seller marks a field of a SKU (or the whole SKU) as different on
purpose (`tui-sync ignore`, `I` in the console). The mark is kept in the cache by the row's key,
across refreshes; the row's cells for that field read `I` (reconcile.py), it leaves the Out of
sync views and counts, and the plan refuses the field with the mark's note (sync.py).

Marking and unmarking rescore that row at once, in the transaction that changes the mark: no
refresh needed, and the grid, `diff` and the counts agree the moment it returns.
"""

from __future__ import annotations

from tui_sync.cache import Cache, sku_key
from tui_sync.config import PairConfig
from tui_sync.model import FIELDS, Field, Intent, Row
from tui_sync.reconcile import rescore
from tui_sync.sync import policy_for
from tui_sync.views import rows_at


class UnknownSku(Exception):
    """No row of the pair has this SKU (exit 1, one line)."""


class NotMarked(Exception):
    """`unignore` of a mark that is not there (exit 1, one line)."""


def parse_field(text: str | None) -> Field | None:
    """quantity, price or cost; None (left out) is the whole SKU. Anything else: ValueError."""
    if text is None:
        return None
    wanted = text.strip().lower()
    for name in FIELDS:
        if wanted == name:
            return name
    raise ValueError(
        f"FIELD: unknown field {text!r} (quantity, price or cost; leave it out for the whole SKU)"
    )


def clean_note(text: str | None) -> str:
    """A note is one line: runs of white space (a pasted line break) become one space."""
    return " ".join((text or "").split())


def find_row(cache: Cache, pair: str, sku: str) -> Row | None:
    """The row of a SKU: its own key, or the back-office key a manual mapping gives a store
    SKU. Two indexed lookups, never a scan of the rows."""
    key = sku_key(sku, "store", "")
    keys = [key]
    mapped = cache.conn.execute(
        "SELECT backoffice_key FROM mappings WHERE pair = ? AND store_key = ?", (pair, key)
    ).fetchone()
    if mapped is not None:
        keys.insert(0, str(mapped[0]))
    for candidate in keys:
        found = cache.conn.execute(
            "SELECT pos FROM rows WHERE pair = ? AND key = ?", (pair, candidate)
        ).fetchone()
        if found is not None:
            return rows_at(cache, pair, [int(found[0])])[0]
    return None


def _row(cache: Cache, pair: str, sku: str, key: str | None) -> Row:
    """The row of this key (the console knows it), or of this SKU."""
    row: Row | None = None
    if key is not None:
        found = cache.conn.execute(
            "SELECT pos FROM rows WHERE pair = ? AND key = ?", (pair, key)
        ).fetchone()
        row = rows_at(cache, pair, [int(found[0])])[0] if found is not None else None
    else:
        row = find_row(cache, pair, sku)
    if row is None:
        raise UnknownSku(
            f"unknown SKU {sku.strip()!r} in pair {pair!r} (not in the cache; refresh?)"
        )
    return row


def mark(
    cache: Cache,
    pair: PairConfig,
    sku: str,
    field: Field | None,
    note: str,
    key: str | None = None,
) -> Row:
    """Mark a field (None: the whole SKU) of the row of `sku` (or of `key`) as intended;
    returns the row, rescored."""
    with cache.transaction():
        row = _row(cache, pair.name, sku, key)
        cache.set_intent(pair.name, row.key, row.sku, field, clean_note(note))
        rescore(cache, pair.name, policy_for(pair), [row.key])
    return rows_at(cache, pair.name, [row.pos])[0]


def unmark(
    cache: Cache, pair: PairConfig, sku: str, field: Field | None, key: str | None = None
) -> Row:
    """Remove a field's mark (None: every mark of the SKU); returns the row, rescored."""
    with cache.transaction():
        row = _row(cache, pair.name, sku, key)
        if not cache.remove_intents(pair.name, row.key, field):
            what = field or "intended-difference"
            whole = row.intent(field) if field is not None else None
            hint = " (the whole SKU is marked: unignore it without a field)" if whole else ""
            raise NotMarked(f"SKU {row.sku!r} has no {what} mark{hint}")
        rescore(cache, pair.name, policy_for(pair), [row.key])
    return rows_at(cache, pair.name, [row.pos])[0]


def listing(cache: Cache, pair: str) -> list[tuple[str, Intent]]:
    """Every mark of a pair as (SKU, mark), in key order."""
    return [(sku, intent) for _, sku, intent in cache.intent_list(pair)]
