"""How alike an unmatched store item and an unmatched back-office item are: the one ranking that
the console's picker (`m`) and `tui-sync map --suggest` both use.

A score of 0..100 from the SKUs' edit distance, the names' similarity, and the same price or
brand, with the reasons in words. Scoring is Python (difflib, a bounded Levenshtein), so it only
ever sees a bounded set of candidates; at 1,000,000 rows the unmatched set can be large, and SQL
chooses those candidates first (`candidates_for`, `suggest`).
"""

from __future__ import annotations

import bisect
import difflib
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from tui_sync.cache import Cache
from tui_sync.model import Side

# Weights of the score (sum 100): SKU and name say most; a same price or brand only helps.
SKU_WEIGHT, NAME_WEIGHT, PRICE_WEIGHT, BRAND_WEIGHT = 40, 40, 10, 10
# The picker scores every unmatched item of the other side up to this many; above, only the
# candidates SQL pre-filters (SKU neighbours in key order, same price, a word of the name).
EXHAUSTIVE_UP_TO = 2000
NEIGHBOURS = 40  # each way, in SKU key order
PREFILTERED = 300
# `--suggest` reads at most this many unmatched items per side (in SKU order) into memory.
SUGGEST_SCAN = 50_000
SUGGEST_FLOOR = 40  # a suggestion below this score is noise


@dataclass(frozen=True, slots=True)
class Unmatched:
    """An unmatched item, with what the ranking compares."""

    rid: int
    side: Side
    sku: str
    key: str
    name: str
    brand: str | None
    price: str | None
    price_u: int | None


@dataclass(frozen=True, slots=True)
class Likeness:
    score: int
    why: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Suggestion:
    store: Unmatched
    backoffice: Unmatched
    likeness: Likeness


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _fold(name: str) -> str:
    return " ".join(name.casefold().split())


def likeness(a: Unmatched, b: Unmatched) -> Likeness:
    why: list[str] = []
    distance = edit_distance(a.key, b.key)
    sku = 1 - distance / max(len(a.key), len(b.key), 1)
    if distance == 0:
        why.append("same SKU")
    else:
        why.append(f"SKU {distance} edit{'s' if distance > 1 else ''} apart")
    name = difflib.SequenceMatcher(None, _fold(a.name), _fold(b.name), autojunk=False).ratio()
    if name >= 0.3:
        why.append("same name" if name == 1 else f"names {int(name * 100)}% alike")
    same_price = a.price_u is not None and a.price_u == b.price_u
    if same_price:
        why.append(f"same price {a.price}")
    same_brand = bool(a.brand and b.brand and _fold(a.brand) == _fold(b.brand))
    if same_brand:
        why.append(f"same brand {a.brand}")
    score = (
        SKU_WEIGHT * sku
        + NAME_WEIGHT * name
        + PRICE_WEIGHT * same_price
        + BRAND_WEIGHT * same_brand
    )
    return Likeness(round(score), tuple(why))


def ranked(item: Unmatched, others: Iterable[Unmatched]) -> list[tuple[Unmatched, Likeness]]:
    """Others by how alike they are to `item`, best first (then by SKU)."""
    scored = [(other, likeness(item, other)) for other in others]
    scored.sort(key=lambda pair: (-pair[1].score, pair[0].key))
    return scored


# --- candidates from SQL ---------------------------------------------------------------------

_ITEM = "i.rowid, i.side, COALESCE(i.sku, ''), i.sku_key, i.name, i.brand, i.price, i.price_u"


def _unmatched(record: tuple[object, ...]) -> Unmatched:
    rid, side, sku, key, name, brand, price, price_u = record
    return Unmatched(
        int(str(rid)),
        "store" if side == "store" else "backoffice",
        str(sku),
        str(key),
        str(name),
        None if brand is None else str(brand),
        None if price is None else str(price),
        None if price_u is None else int(str(price_u)),
    )


def _other(side: Side) -> Side:
    return "backoffice" if side == "store" else "store"


def _of_side(side: Side) -> tuple[str, str]:
    """The row status of a side's unmatched items, and the row column that holds them."""
    return ("store_only", "store_rid") if side == "store" else ("backoffice_only", "backoffice_rid")


def unmatched_item(cache: Cache, pair: str, side: Side, item_id: str) -> Unmatched | None:
    """A side's item (by its id) as the ranking sees it: one lookup by the items' unique key."""
    found = cache.conn.execute(
        f"SELECT {_ITEM} FROM items AS i WHERE i.pair = ? AND i.side = ? AND i.id = ?",
        (pair, side, item_id),
    ).fetchone()
    return None if found is None else _unmatched(found)


def _query(conn: sqlite3.Connection, sql: str, args: tuple[object, ...]) -> list[Unmatched]:
    return [_unmatched(r) for r in conn.execute(sql, args)]


def candidates_for(
    cache: Cache, pair: str, item: Unmatched, limit: int = 50
) -> list[tuple[Unmatched, Likeness]]:
    """The other side's unmatched items most like `item`, best first.

    Bounded at any size: when the other side has at most EXHAUSTIVE_UP_TO unmatched items,
    every one is scored. Above that, SQL pre-filters a few hundred: the NEIGHBOURS nearest in
    SKU key order each way (one index range on items_by_key each, typos and suffixes sort
    together), and up to PREFILTERED of the same price or holding the name's longest word (one
    pass over the unmatched rows by rows_by_status, no Python per row); only those are scored.
    """
    other = _other(item.side)
    status, column = _of_side(other)
    conn = cache.conn
    from_rows = (
        f"SELECT {_ITEM} FROM rows AS r INDEXED BY rows_by_status "
        f"JOIN items AS i ON i.rowid = r.{column} WHERE r.pair = ? AND r.status = ?"
    )
    everything = _query(conn, f"{from_rows} LIMIT ?", (pair, status, EXHAUSTIVE_UP_TO + 1))
    if len(everything) <= EXHAUSTIVE_UP_TO:
        return ranked(item, everything)[:limit]
    found: dict[int, Unmatched] = {}
    # Walk the other side's items in key order from `item`'s key, keeping unmatched ones.
    near = (
        f"SELECT {_ITEM} FROM items AS i INDEXED BY items_by_key "
        f"JOIN rows AS r ON r.pair = i.pair AND r.{column} = i.rowid "
        f"WHERE i.pair = ? AND i.side = ? AND i.sku_key {{op}} ? AND r.status = ? "
        f"ORDER BY i.sku_key {{order}} LIMIT ?"
    )
    for op, order in ((">=", "ASC"), ("<", "DESC")):
        for cand in _query(
            conn,
            near.format(op=op, order=order),
            (pair, other, item.key, status, NEIGHBOURS),
        ):
            found[cand.rid] = cand
    words = sorted(re.findall(r"\w{4,}", _fold(item.name)), key=len, reverse=True)
    like = f"%{words[0]}%" if words else None
    for cand in _query(
        conn,
        f"{from_rows} AND (i.price_u = ? OR (? IS NOT NULL AND lower(i.name) LIKE ?)) LIMIT ?",
        (pair, status, item.price_u, like, like, PREFILTERED),
    ):
        found[cand.rid] = cand
    return ranked(item, found.values())[:limit]


def _all_unmatched(cache: Cache, pair: str, side: Side) -> list[Unmatched]:
    status, column = _of_side(side)
    return _query(
        cache.conn,
        f"SELECT {_ITEM} FROM rows AS r INDEXED BY rows_by_status "
        f"JOIN items AS i ON i.rowid = r.{column} WHERE r.pair = ? AND r.status = ? "
        f"ORDER BY i.sku_key LIMIT ?",
        (pair, status, SUGGEST_SCAN),
    )


def _squash(key: str) -> str:
    return re.sub(r"[\W_]+", "", key)


def suggest(cache: Cache, pair: str, limit: int = 20) -> list[Suggestion]:
    """The best store/back-office pairs among unmatched items, each item in one pair at most.

    Bounded: up to SUGGEST_SCAN unmatched items per side (in SKU order) are read; each store
    item is scored only against back-office items it could plausibly be (blocking): the 3
    nearest in SKU key order each way, those whose SKU is the same once punctuation is dropped,
    and those of the same name. So the Python scoring is a few pairs per item, not U x U."""
    stores = _all_unmatched(cache, pair, "store")
    backs = _all_unmatched(cache, pair, "backoffice")
    keys = [b.key for b in backs]  # sorted: the query's order
    by_squash: dict[str, list[Unmatched]] = {}
    by_name: dict[str, list[Unmatched]] = {}
    for b in backs:
        by_squash.setdefault(_squash(b.key), []).append(b)
        by_name.setdefault(_fold(b.name), []).append(b)
    best: list[Suggestion] = []
    for s in stores:
        at = bisect.bisect_left(keys, s.key)
        pool = {b.rid: b for b in backs[max(at - 3, 0) : at + 3]}
        for b in (*by_squash.get(_squash(s.key), ()), *by_name.get(_fold(s.name), ())):
            pool[b.rid] = b
        best.extend(Suggestion(s, b, like) for b, like in ranked(s, pool.values())[:3])
    best.sort(key=lambda x: (-x.likeness.score, x.store.key, x.backoffice.key))
    taken: set[int] = set()
    out: list[Suggestion] = []
    for pick in best:
        if pick.likeness.score < SUGGEST_FLOOR or len(out) >= limit:
            break
        if pick.store.rid in taken or pick.backoffice.rid in taken:
            continue
        taken |= {pick.store.rid, pick.backoffice.rid}
        out.append(pick)
    return out
