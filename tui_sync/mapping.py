"""Manual mappings: a store SKU matched to a differently spelled back-office SKU, and the local
re-pairing that shows it at once, without a refresh or a full reconcile.

The one rule (DESIGN.md section 1: "only products that match or have been mapped together can
sync"): a mapping joins one store item that matches nothing to one back-office item that
matches nothing. Anything else is refused in one line that says why: an unknown SKU, a SKU
already mapped, or a pair that would create a duplicate (a SKU on several items, an item that
already matches, a back-office SKU another mapping already targets).

`repair` re-pairs only the rows of the match keys a mapping touched; the CLI (`cli_map`) and the
console (`tui/screens/map_picker`) both go through `map_skus` / `unmap_sku`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from tui_sync.cache import Cache, sku_key
from tui_sync.model import Side, side_label
from tui_sync.reconcile import ROW_COLUMNS, Policy, rescore
from tui_sync.text import inert


class MappingRefused(Exception):
    """A map or unmap that the rule refuses; one line, the reason (exit 1 headless)."""


@dataclass(frozen=True, slots=True)
class Mapping:
    store_key: str
    backoffice_key: str
    status: str | None  # the mapped row's status, None while an item of it is missing


def _only(side: Side) -> str:
    return "store_only" if side == "store" else "backoffice_only"


def _side_reason(cache: Cache, pair: str, side: Side, sku: str) -> str | None:
    """Why this side's SKU cannot take part in a new mapping, or None if it can."""
    key = sku_key(sku, side, "")
    label = side_label(side)
    rids = [
        int(r)
        for (r,) in cache.conn.execute(
            "SELECT rowid FROM items WHERE pair = ? AND side = ? AND sku_key = ?",
            (pair, side, key),
        )
    ]
    if not rids:
        return f"unknown {label} SKU {inert(sku)!r} (not in the cache; refresh?)"
    if len(rids) > 1:
        return f"would create a duplicate: {label} SKU {inert(sku)!r} is on {len(rids)} items"
    found = cache.conn.execute(
        f"SELECT status FROM rows WHERE pair = ? AND {side}_rid = ?", (pair, rids[0])
    ).fetchone()
    status = None if found is None else str(found[0])
    if status == _only(side):
        return None
    if status is None:
        return f"{label} SKU {inert(sku)!r} has no row yet: refresh first"
    if status == "base":
        return f"{label} SKU {inert(sku)!r} is a base product: map its variants"
    if status == "duplicate_sku":
        return f"would create a duplicate: {label} SKU {inert(sku)!r} is a duplicate SKU"
    return f"{label} SKU {inert(sku)!r} already matches an item of the other side"


def check_map(cache: Cache, pair: str, store_sku: str, backoffice_sku: str) -> str | None:
    """The reason this mapping is refused, or None when it may be made."""
    store_key = sku_key(store_sku, "store", "")
    back_key = sku_key(backoffice_sku, "backoffice", "")
    if store_key.startswith("\x00") or back_key.startswith("\x00"):
        return "a mapping needs two SKUs that are not blank"
    sides: tuple[tuple[Side, str], ...] = (("store", store_sku), ("backoffice", backoffice_sku))
    unknown = [
        reason
        for side, sku in sides
        if (reason := _side_reason(cache, pair, side, sku)) is not None
        and reason.startswith("unknown")
    ]
    if unknown:
        return "; ".join(unknown)
    current = cache.mappings(pair)
    if store_key in current:
        return (
            f"already mapped: store SKU {inert(store_sku)!r} is mapped to "
            f"{inert(current[store_key])!r} (unmap it first)"
        )
    targeting = sorted(s for s, b in current.items() if b == back_key)
    if targeting:
        return (
            f"would create a duplicate: back-office SKU {inert(backoffice_sku)!r} is already "
            f"the target of store SKU {inert(targeting[0])!r}"
        )
    for side, sku in sides:
        reason = _side_reason(cache, pair, side, sku)
        if reason is not None:
            return reason
    return None


def map_skus(cache: Cache, pair: str, policy: Policy, store_sku: str, backoffice_sku: str) -> str:
    """Map, re-pair the two rows, and return the key of the row they now share."""
    with cache.transaction():
        reason = check_map(cache, pair, store_sku, backoffice_sku)
        if reason is not None:
            raise MappingRefused(reason)
        cache.set_mapping(pair, store_sku, backoffice_sku)
        store_key = sku_key(store_sku, "store", "")
        back_key = sku_key(backoffice_sku, "backoffice", "")
        repair(cache, pair, policy, {store_key, back_key})
    return back_key


def map_many(cache: Cache, pair: str, policy: Policy, pairs: Iterable[tuple[str, str]]) -> None:
    """Several mappings (already checked together, `check_map` plus the file's own lines) in
    one transaction and one re-pairing."""
    keys: set[str] = set()
    with cache.transaction():
        for store_sku, backoffice_sku in pairs:
            cache.set_mapping(pair, store_sku, backoffice_sku)
            keys.add(sku_key(store_sku, "store", ""))
            keys.add(sku_key(backoffice_sku, "backoffice", ""))
        repair(cache, pair, policy, keys)


def unmap_sku(cache: Cache, pair: str, policy: Policy, store_sku: str) -> str:
    """Remove a store SKU's mapping, re-pair its rows; returns the back-office key it had."""
    store_key = sku_key(store_sku, "store", "")
    with cache.transaction():
        back_key = cache.mappings(pair).get(store_key)
        if back_key is None:
            raise MappingRefused(f"store SKU {inert(store_sku)!r} is not mapped")
        cache.remove_mapping(pair, store_sku)
        repair(cache, pair, policy, {store_key, back_key})
    return back_key


def mapping_of_item(cache: Cache, pair: str, store_item_id: str) -> tuple[str, str] | None:
    """(store key, back-office key) when this store item is matched by a mapping."""
    found = cache.conn.execute(
        "SELECT m.store_key, m.backoffice_key FROM items AS i JOIN mappings AS m "
        "ON m.pair = i.pair AND m.store_key = i.sku_key "
        "WHERE i.pair = ? AND i.side = 'store' AND i.id = ?",
        (pair, store_item_id),
    ).fetchone()
    return None if found is None else (str(found[0]), str(found[1]))


def list_mappings(cache: Cache, pair: str) -> list[Mapping]:
    """Every mapping of the pair in store-SKU order, with the status of the row it makes."""
    out: list[Mapping] = []
    for store_key, back_key in sorted(cache.mappings(pair).items()):
        found = cache.conn.execute(
            "SELECT r.status FROM items AS i JOIN rows AS r ON r.pair = i.pair "
            "AND r.store_rid = i.rowid WHERE i.pair = ? AND i.side = 'store' AND i.sku_key = ? "
            "AND r.backoffice_rid IS NOT NULL LIMIT 1",
            (pair, store_key),
        ).fetchone()
        out.append(Mapping(store_key, back_key, None if found is None else str(found[0])))
    return out


# --- re-pairing the touched rows ---------------------------------------------------------------

# Every column of a row, the triage ones too (the shifted rows keep theirs; the new rows get
# theirs from the rescore).
_COLUMNS = ROW_COLUMNS

# The columns a new row leaves to the rescore: its cells and its triage values.
_UNSCORED = len(_COLUMNS.split(", ")) - 11


@dataclass(frozen=True, slots=True)
class _Paired:
    key: str
    store_rid: int | None
    backoffice_rid: int | None
    sides: int
    duplicate: bool
    pending: int


def _marks(values: list[str] | list[int]) -> str:
    return ", ".join("?" * len(values))


def _pairing(conn: sqlite3.Connection, pair: str, keys: list[str]) -> list[_Paired]:
    """The rows the full reconcile's pairing (reconcile._PAIRING) would make for these match
    keys: a store item's key is its mapping's target or its own SKU key; items of a key are
    paired by their order of id; a key with several items on a side is a duplicate."""
    mapped_in = [
        str(s)
        for (s,) in conn.execute(
            f"SELECT store_key FROM mappings WHERE pair = ? AND backoffice_key IN ({_marks(keys)})",
            (pair, *keys),
        )
    ]
    own = sorted({*keys, *mapped_in})
    store: dict[str, list[tuple[str, int, str]]] = {}
    for rid, item_id, own_key, mkey in conn.execute(
        f"SELECT i.rowid, i.id, i.sku_key, COALESCE(m.backoffice_key, i.sku_key) "
        f"FROM items AS i LEFT JOIN mappings AS m ON m.pair = i.pair AND m.store_key = i.sku_key "
        f"WHERE i.pair = ? AND i.side = 'store' AND i.sku_key IN ({_marks(own)})",
        (pair, *own),
    ):
        if mkey in keys:
            store.setdefault(str(mkey), []).append((str(item_id), int(rid), str(own_key)))
    back: dict[str, list[tuple[str, int, str]]] = {}
    for rid, item_id, own_key in conn.execute(
        f"SELECT rowid, id, sku_key FROM items WHERE pair = ? AND side = 'backoffice' "
        f"AND sku_key IN ({_marks(keys)})",
        (pair, *keys),
    ):
        back.setdefault(str(own_key), []).append((str(item_id), int(rid), str(own_key)))
    owners = sorted({o for items in (*store.values(), *back.values()) for _, _, o in items})
    pending = {
        str(k): int(q)
        for k, q in conn.execute(
            f"SELECT sku_key, SUM(quantity) FROM pending WHERE pair = ? "
            f"AND sku_key IN ({_marks(owners)}) GROUP BY sku_key",
            (pair, *owners),
        )
    }
    out: list[_Paired] = []
    for mkey in sorted(set(store) | set(back)):
        s, b = sorted(store.get(mkey, [])), sorted(back.get(mkey, []))
        for k in range(max(len(s), len(b))):
            si = s[k] if k < len(s) else None
            bi = b[k] if k < len(b) else None
            owner = (si or bi or ("", 0, ""))[2]
            out.append(
                _Paired(
                    mkey if k == 0 else f"{mkey}#{k + 1}",
                    None if si is None else si[1],
                    None if bi is None else bi[1],
                    (len(s) > 0) + 2 * (len(b) > 0),
                    len(s) > 1 or len(b) > 1,
                    pending.get(owner, 0),
                )
            )
    return out


def repair(cache: Cache, pair: str, policy: Policy, keys: Iterable[str]) -> int:
    """Re-pair the rows of these match keys after their mappings changed; returns the rows'
    count change. Contract: every item whose match key changed had its old and its new key
    among `keys` (a mapping's store and back-office keys).

    Rows stay numbered 0..n-1 in key order (the views read the All view as a range of
    positions): the old rows of the keys are deleted, the new ones placed after the row whose
    key sorts just before theirs, and the rows from the first touched position on renumbered.
    That renumbering is the cost, and it grows with the rows after the first touched one: at
    100k SKUs (123k rows) a mapping of two SKUs near the start took 1.6 s of CPU, one near the
    end next to nothing, where a full reconcile pairs and scores every row (about 3 s). The
    console runs it in a thread worker; readers keep the old rows (WAL) until it commits. Key order
    here is the string order of `rows.key`, the full reconcile's (key, ordinal) order but for
    a duplicate's `KEY#2` next to a SKU that extends KEY with a character below '#' (a space):
    the next full reconcile puts such a row back where it belongs."""
    wanted = sorted(set(keys))
    if not wanted:
        return 0
    with cache.transaction() as conn:
        new = _pairing(conn, pair, wanted)
        store_rids = [p.store_rid for p in new if p.store_rid is not None]
        back_rids = [p.backoffice_rid for p in new if p.backoffice_rid is not None]
        old: dict[int, str] = {}
        for column, values in (
            ("key", wanted),
            ("store_rid", store_rids),
            ("backoffice_rid", back_rids),
        ):
            for start in range(0, len(values), 400):
                part = values[start : start + 400]
                old.update(
                    (int(p), str(k))
                    for p, k in conn.execute(
                        f"SELECT pos, key FROM rows WHERE pair = ? AND {column} IN "
                        f"({_marks(part)})",
                        (pair, *part),
                    )
                )
        for pos in old:
            conn.execute("DELETE FROM rows WHERE pair = ? AND pos = ?", (pair, pos))
        anchors: list[int] = []
        for paired in new:
            found = conn.execute(
                "SELECT pos FROM rows INDEXED BY rows_by_key WHERE pair = ? AND key < ? "
                "ORDER BY key DESC LIMIT 1",
                (pair, paired.key),
            ).fetchone()
            anchors.append(-1 if found is None else int(found[0]))
        first = min([*old, *(a + 1 for a in anchors)], default=None)
        if first is None:
            return 0
        conn.execute("DROP TABLE IF EXISTS temp.repair_tail")
        conn.execute(
            f"CREATE TEMP TABLE repair_tail AS SELECT {_COLUMNS}, CAST(pos AS REAL) AS ord, "
            "0 AS seq FROM rows WHERE pair = ? AND pos >= ?",
            (pair, first),
        )
        conn.executemany(
            f"INSERT INTO temp.repair_tail ({_COLUMNS}, ord, seq) VALUES "
            "(?, -1, ?, '', '', 'in_sync', ?, ?, ?, ?, ?, "
            f"{', '.join(['NULL'] * _UNSCORED)}, ?, ?)",
            [
                (
                    pair,
                    p.key,
                    p.store_rid,
                    p.backoffice_rid,
                    p.sides,
                    int(p.duplicate),
                    p.pending,
                    anchor + 0.5,
                    seq,
                )
                for seq, (p, anchor) in enumerate(zip(new, anchors, strict=True), start=1)
            ],
        )
        conn.execute("DELETE FROM rows WHERE pair = ? AND pos >= ?", (pair, first))
        rest = _COLUMNS.split(", ", 2)[2]
        conn.execute(
            f"INSERT INTO rows ({_COLUMNS}) SELECT pair, "
            f"? + row_number() OVER (ORDER BY ord, seq) - 1, {rest} "
            "FROM temp.repair_tail ORDER BY ord, seq",
            (first,),
        )
        conn.execute("DROP TABLE temp.repair_tail")
        # The new rows' cells, status, SKU and name, by the same scoring as every row.
        rescore(cache, pair, policy, [p.key for p in new])
    return len(new) - len(old)
