"""Triage over the reconciled rows: a view's breakdown (by code, brand and size of gap) and
finding a SKU. Plain SQL over `rows`, run by the console's thread workers on their own
connection."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from tui_sync.cache import PRICE_SIZES, QUANTITY_SIZES, Cache
from tui_sync.model import CODES
from tui_sync.text import inert
from tui_sync.views import VIEWS, Narrowing, View, _filter

BRANDS_SHOWN = 40  # the biggest brands of the view; the rest are summed in one line
# What a breakdown groups by: all in the triage index (cache.ROW_TRIAGE_INDEXES), in its order.
_CODE_COLUMNS = tuple(f"r.c_{code.lower()}" for code in CODES)
_GROUPS = ("r.status", *_CODE_COLUMNS, "r.q_size", "r.p_size", "r.brand")


@dataclass(frozen=True, slots=True)
class Line:
    """A line of the breakdown: how many of the view's rows `narrowing` keeps."""

    group: str  # "code", "quantity gap", "price gap", "brand"
    value: str  # shown inert
    count: int
    narrowing: Narrowing


def breakdown(
    cache: Cache,
    pair: str,
    view: View = VIEWS[0],
    text: str = "",
    narrow: Narrowing | None = None,
    selected: Sequence[int] | None = None,
) -> list[Line]:
    """The view's rows counted by code (N cells), size of gap and brand (biggest first); lines
    that count nothing are left out. `selected`: the view is exactly those positions.

    One GROUP BY over the triage index, which holds every column it reads and is in its
    order: a scan of that index, no sort and no row read (a text filter reads the rows)."""
    extra, args = _filter(text)
    hint = "" if extra or selected is not None else " INDEXED BY rows_triage"
    if narrow is not None:
        extra += f" AND ({narrow.where})"
        args.extend(narrow.args)
    groups = ", ".join(_GROUPS)
    select = f"SELECT {groups}, count(*) FROM rows AS r{hint} WHERE r.pair = ?"
    codes: Counter[str] = Counter()
    quantity: Counter[int] = Counter()
    price: Counter[int] = Counter()
    brands: Counter[str | None] = Counter()

    def add(where: str, params: Sequence[object]) -> None:
        for record in cache.conn.execute(f"{select} {where} GROUP BY {groups}", (pair, *params)):
            cells, (q_size, p_size, brand, count) = record[1 : 1 + len(CODES)], record[-4:]
            n = int(count)
            codes.update({code: n for code, cell in zip(CODES, cells, strict=True) if cell == "N"})
            quantity[int(q_size or 0)] += n
            price[int(p_size or 0)] += n
            brands[brand] += n

    if selected is None:
        add(f"AND {view.where}{extra}", args)
    else:
        for start in range(0, len(selected), 500):
            part = ", ".join(str(int(p)) for p in selected[start : start + 500])
            add(f"AND r.pos IN ({part}){extra}", args)
    lines = [
        Line("code", code, codes[code], Narrowing(f"code {code}", f"r.c_{code.lower()} = 'N'"))
        for code in CODES
        if codes[code]
    ]
    for group, column, sizes, counts in (
        ("quantity gap", "r.q_size", QUANTITY_SIZES, quantity),
        ("price gap", "r.p_size", PRICE_SIZES, price),
    ):
        lines.extend(
            Line(group, label, counts[size], Narrowing(f"{group} {label}", f"{column} = {size}"))
            for size, label in enumerate(sizes, start=1)
            if counts[size]
        )
    ranked = sorted(brands.items(), key=lambda item: (-item[1], item[0] or ""))
    for brand, count in ranked[:BRANDS_SHOWN]:
        if brand is None:
            lines.append(
                Line("brand", "(no brand)", count, Narrowing("no brand", "r.brand IS NULL"))
            )
        else:
            label = f"brand “{inert(brand)}”"
            lines.append(Line("brand", brand, count, Narrowing(label, "r.brand = ?", (brand,))))
    rest = sum(count for _, count in ranked[BRANDS_SHOWN:])
    if rest:
        shown = tuple(b for b, _ in ranked[:BRANDS_SHOWN] if b is not None)
        marks = ", ".join("?" * len(shown))
        # NOT IN is never true of NULL: rows without a brand are "other" only if not shown.
        where = f"r.brand NOT IN ({marks})"
        if len(shown) == BRANDS_SHOWN:
            where = f"(r.brand IS NULL OR {where})"
        lines.append(Line("brand", "(other brands)", rest, Narrowing("other brands", where, shown)))
    return lines


@dataclass(frozen=True, slots=True)
class Found:
    pos: int
    key: str
    sku: str
    how: str  # "exact", "prefix", "contains", "fuzzy"


def find_sku(cache: Cache, pair: str, text: str) -> Found | None:
    """The row of a SKU typed at `g`: the exact SKU, else the first SKU it begins, else the
    shortest that contains it, else the shortest holding its characters in order (fuzzy).
    The first two are lookups in the key index; the others read the SKU of every row."""
    wanted = text.strip().upper()
    if not wanted:
        return None
    record = cache.conn.execute(
        "SELECT pos, key, sku FROM rows INDEXED BY rows_by_key WHERE pair = ? AND key = ?",
        (pair, wanted),
    ).fetchone()
    if record is not None:
        return Found(int(record[0]), str(record[1]), str(record[2]), "exact")
    # Keys are the upper-cased SKUs: a prefix is a range of the index.
    record = cache.conn.execute(
        "SELECT pos, key, sku FROM rows INDEXED BY rows_by_key "
        "WHERE pair = ? AND key >= ? AND key < ? ORDER BY key LIMIT 1",
        (pair, wanted, wanted + "\U0010ffff"),
    ).fetchone()
    if record is not None:
        return Found(int(record[0]), str(record[1]), str(record[2]), "prefix")
    escaped = [c.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") for c in wanted]
    for how, pattern in (
        ("contains", f"%{''.join(escaped)}%"),
        ("fuzzy", f"%{'%'.join(escaped)}%"),
    ):
        record = cache.conn.execute(
            "SELECT pos, key, sku FROM rows WHERE pair = ? AND sku LIKE ? ESCAPE '\\' "
            "ORDER BY length(sku), pos LIMIT 1",
            (pair, pattern),
        ).fetchone()
        if record is not None:
            return Found(int(record[0]), str(record[1]), str(record[2]), how)
    return None
