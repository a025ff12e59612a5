"""Triage over the reconciled rows: a view's breakdown (by code, brand and size of gap) and
finding a SKU. Plain SQL over `rows`, run by the console's thread workers on their own
connection (each reads every row of a view once: ~0.3 s at 1M)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from tui_sync.cache import Cache
from tui_sync.model import CODES
from tui_sync.text import inert
from tui_sync.views import VIEWS, Narrowing, View, _filter

BRANDS_SHOWN = 40  # the biggest brands of the view; the rest are summed in one line
MICRO = 1_000_000

# Sizes of gap, each a condition on the row's stored sort keys (cache.ROW_SORT_VALUES).
QUANTITY_BUCKETS: tuple[tuple[str, str], ...] = (
    ("under 10", f"r.q_gap > 0 AND r.q_gap < {10 * MICRO}"),
    ("10 to 99", f"r.q_gap >= {10 * MICRO} AND r.q_gap < {100 * MICRO}"),
    ("100 or more", f"r.q_gap >= {100 * MICRO}"),
)
PRICE_BUCKETS: tuple[tuple[str, str], ...] = (
    ("under 1 %", "r.p_gap > 0 AND r.p_gap < 1"),
    ("1 to 10 %", "r.p_gap >= 1 AND r.p_gap < 10"),
    ("10 to 50 %", "r.p_gap >= 10 AND r.p_gap < 50"),
    ("50 % or more", "r.p_gap >= 50"),
)


@dataclass(frozen=True, slots=True)
class Line:
    """A line of the breakdown: how many of the view's rows `narrowing` keeps."""

    group: str  # "code", "brand", "quantity gap", "price gap"
    value: str  # shown inert
    count: int
    narrowing: Narrowing


def _code_lines() -> list[tuple[str, str, Narrowing]]:
    lines = []
    for code in CODES:
        where = f"r.c_{code.lower()} = 'N'"
        lines.append(("code", code, Narrowing(f"code {code}", where)))
    for value, where in QUANTITY_BUCKETS:
        lines.append(("quantity gap", value, Narrowing(f"quantity gap {value}", where)))
    for value, where in PRICE_BUCKETS:
        lines.append(("price gap", value, Narrowing(f"price gap {value}", where)))
    return lines


def breakdown(
    cache: Cache,
    pair: str,
    view: View = VIEWS[0],
    text: str = "",
    narrow: Narrowing | None = None,
    selected: Sequence[int] | None = None,
) -> list[Line]:
    """The view's rows counted by code (N cells), size of gap and brand (biggest first); lines
    that count nothing are left out. `selected`: the view is exactly those positions."""
    fixed = _code_lines()
    sums = ", ".join(f"COALESCE(SUM({n.where}), 0)" for _, _, n in fixed)
    select = f"SELECT r.brand, count(*), {sums} FROM rows AS r WHERE r.pair = ?"
    extra, args = _filter(text)
    if narrow is not None:
        extra += f" AND ({narrow.where})"
        args.extend(narrow.args)
    totals = [0] * len(fixed)
    brands: Counter[str | None] = Counter()

    def add(where: str, params: Sequence[object]) -> None:
        for brand, count, *counts in cache.conn.execute(
            f"{select} {where} GROUP BY r.brand", (pair, *params)
        ):
            brands[brand] += int(count)
            for i, n in enumerate(counts):
                totals[i] += int(n)

    if selected is None:
        add(f"AND {view.where}{extra}", args)
    else:
        for start in range(0, len(selected), 500):
            part = ", ".join(str(int(p)) for p in selected[start : start + 500])
            add(f"AND r.pos IN ({part}){extra}", args)
    lines = [
        Line(group, value, total, narrowing)
        for (group, value, narrowing), total in zip(fixed, totals, strict=True)
        if total
    ]
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
