"""Items of both sides -> rows with cells and a status (DESIGN.md section 4), in SQL.

Two steps, so that a sync can re-score just the rows it touched:
1. *pairing* (full reconcile only): items are joined by matching key (normalised SKU, or a manual
   mapping), duplicates paired by their order within the key, and numbered in SKU order (`pos`);
2. *scoring*: one SELECT computes every cell and the status from the paired items. The full
   reconcile inserts its result; `rescore` re-runs it on chosen rows in place, keeping `pos`.

Everything item-level that would be awkward in SQL (name folding, the name without an appended
SKU, the variant signature, values in integer millionths) was computed at refresh (cache.py).
Values with more than six places are compared exactly by the `money_gap_over` SQL function.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from tui_sync.cache import ROW_TRIAGE_INDEXES, ROW_TRIAGE_VALUES, WHOLE_SKU, Cache, options_text
from tui_sync.model import Capabilities, QuantityBuffer, Row, Status
from tui_sync.money import MICROS


@dataclass(frozen=True, slots=True)
class Policy:
    """What scoring needs to know besides the items."""

    price_tolerance: Decimal = Decimal("0.005")
    store: Capabilities = field(default_factory=Capabilities)
    backoffice: Capabilities = field(default_factory=lambda: Capabilities(negative_quantity=True))
    # The pair's `quantity_buffer`, only when the back office is the master: Q then compares
    # the store's quantity with the master's less the buffer (sync.policy_for decides).
    quantity_buffer: QuantityBuffer | None = None

    @property
    def signature(self) -> str:
        """What scoring depends on besides the items: when it changes, every row is rescored."""
        both = (self.store, self.backoffice)
        flags = [all(c.has_options for c in both), all(c.has_brand for c in both)]
        flags.append(all(c.has_cost for c in both))
        return f"{self.price_tolerance}|{self.quantity_buffer or ''}|{flags}"

    @property
    def tolerance_micros(self) -> int:
        return int((self.price_tolerance * MICROS).to_integral_value())


# Pairing: one row per (key, ordinal within key) over both sides; a key with several items on a
# side gets one row per item, so every item is visible, and the row is marked duplicate. Each side
# is first numbered into an indexed temp table, so the join is two index lookups per item.
# What scoring compares, per side; carried along from the sequential scan of items, so that
# scoring a full reconcile never has to look items up again in key order (random reads).
_SCORED = {
    "name_key": "{a}.name_key",
    "name_bare": "{a}.name_bare",
    "variant_sig": "{a}.variant_sig",
    "brand_key": "lower(trim(COALESCE({a}.brand, '')))",
    "brand": "{a}.brand",
    "quantity": "{a}.quantity_u",
    "price_u": "{a}.price_u",
    "cost_u": "{a}.cost_u",
    "price": "{a}.price",
    "cost": "{a}.cost",
    "exact": "{a}.exact",
    "is_base": "{a}.is_base",
}


def _scored(alias: str, prefix: str = "", raw: bool = True) -> str:
    """The scored columns of an item alias, e.g. `s.quantity AS s_quantity`."""
    return ", ".join(
        f"{expr.format(a=alias) if raw else f'{alias}.{name}'} AS {prefix}{name}"
        for name, expr in _SCORED.items()
    )


def _nulls(prefix: str) -> str:
    return ", ".join(f"NULL AS {prefix}{name}" for name in _SCORED)


def _numbered_side(table: str, side: str, mkey: str, joins: str = "") -> tuple[str, ...]:
    """A side's items with their matching key; k numbers the items of a duplicated key.

    Window functions would number every item; duplicates are rare, so only they get counted.
    """
    return (
        f"""
        CREATE TEMP TABLE {table} AS
        SELECT i.rowid AS rid, {mkey} AS mkey, i.sku_key AS own_key, i.sku, i.name, i.id,
               1 AS k, 1 AS n, {_scored("i")}
        FROM items AS i NOT INDEXED {joins}
        WHERE i.pair = :pair AND i.side = '{side}'
        """,
        f"CREATE INDEX temp.{table}_key ON {table} (mkey, k)",
        f"""
        UPDATE {table} SET
            n = (SELECT count(*) FROM {table} AS o WHERE o.mkey = {table}.mkey),
            k = (SELECT count(*) FROM {table} AS o
                 WHERE o.mkey = {table}.mkey AND o.id <= {table}.id)
        WHERE mkey IN (SELECT mkey FROM {table} GROUP BY mkey HAVING count(*) > 1)
        """,
    )


_PAIRING = (
    *_numbered_side(
        "side_s",
        "store",
        "COALESCE(m.backoffice_key, i.sku_key)",
        "LEFT JOIN mappings AS m ON m.pair = i.pair AND m.store_key = i.sku_key",
    ),
    *_numbered_side("side_b", "backoffice", "i.sku_key"),
    """
    CREATE TEMP TABLE pending_sum AS
    SELECT sku_key, SUM(quantity) AS quantity FROM pending WHERE pair = :pair GROUP BY sku_key
    """,
    "CREATE UNIQUE INDEX temp.pending_sum_key ON pending_sum (sku_key)",
    # Every (key, ordinal) of either side, numbered in key order by the rowid: sorting only these
    # two narrow columns is what gives each row its position.
    """
    CREATE TEMP TABLE keys AS
    SELECT mkey, k, max(sn) AS s_count, max(bn) AS b_count
    FROM (SELECT mkey, k, n AS sn, 0 AS bn FROM side_s
          UNION ALL SELECT mkey, k, 0, n FROM side_b)
    GROUP BY mkey, k ORDER BY mkey, k
    """,
    # A duplicate's extra ordinal exists on one side only; its key's count on the other side
    # still decides "matched" (not store only) and "duplicate".
    """
    UPDATE keys SET
        s_count = COALESCE((SELECT o.n FROM side_s AS o WHERE o.mkey = keys.mkey LIMIT 1), 0),
        b_count = COALESCE((SELECT o.n FROM side_b AS o WHERE o.mkey = keys.mkey LIMIT 1), 0)
    WHERE mkey IN (SELECT mkey FROM keys WHERE k > 1)
    """,
)
# The paired rows, numbered in key order; scored straight into `rows` by `reconcile`.
_PAIRED = f"""(
    SELECT :pair AS pair, keys.rowid - 1 AS pos,
           CASE WHEN keys.k = 1 THEN keys.mkey ELSE keys.mkey || '#' || keys.k END AS key,
           trim(COALESCE(s.sku, b.sku, '')) AS sku, COALESCE(s.name, b.name) AS name,
           s.rid AS store_rid, b.rid AS backoffice_rid,
           (keys.s_count > 0) + 2 * (keys.b_count > 0) AS sides,
           keys.s_count > 1 OR keys.b_count > 1 AS duplicate,
           COALESCE(p.quantity, 0) AS pending,
           {_scored("s", "s_", raw=False)}, {_scored("b", "b_", raw=False)}
    FROM keys
    LEFT JOIN side_s AS s ON s.mkey = keys.mkey AND s.k = keys.k
    LEFT JOIN side_b AS b ON b.mkey = keys.mkey AND b.k = keys.k
    LEFT JOIN pending_sum AS p ON p.sku_key = COALESCE(s.own_key, b.own_key)
)"""
# Rows already scored, with their items' current values: the source of a rescore.
_ROWS_WITH_ITEMS = f"""(
    SELECT r.pair, r.pos, r.key, trim(COALESCE(s.sku, b.sku, '')) AS sku,
           COALESCE(s.name, b.name) AS name, r.store_rid, r.backoffice_rid, r.sides,
           r.duplicate, r.pending, {_scored("s", "s_")}, {_scored("b", "b_")}
    FROM rows AS r {{hint}}
    LEFT JOIN items AS s ON s.rowid = r.store_rid
    LEFT JOIN items AS b ON b.rowid = r.backoffice_rid
    WHERE r.pair = :pair {{inner}}
)"""
_PAIRING_TEMP_TABLES = ("side_s", "side_b", "pending_sum", "keys")

# Scoring. `src` is either temp.paired (full reconcile) or rows itself (rescore); both carry the
# pairing columns. `cells` computes the codes, the outer SELECT the status from them.
_SCORING = """
WITH cells AS (
    SELECT src.pair, src.pos, src.key, src.sku, src.name, src.store_rid, src.backoffice_rid,
           src.sides, src.duplicate, src.pending,
           src.store_rid IS NOT NULL AND src.backoffice_rid IS NOT NULL AS matched,
           COALESCE(src.s_is_base, 0) OR COALESCE(src.b_is_base, 0) AS base,
           src.sides = 2 AS backoffice_only, src.sides = 1 AS store_only,
           src.s_name_key = src.b_name_key AS same_name,
           src.s_name_bare = src.b_name_bare AS same_bare,
           src.s_variant_sig = src.b_variant_sig AS same_variants,
           src.s_brand_key = src.b_brand_key AS same_brand,
           src.s_quantity AS sq, src.b_quantity AS bq, src.s_price_u AS sp,
           src.b_price_u AS bp, src.s_cost_u AS sc, src.b_cost_u AS bc,
           src.pending * 1000000 AS pending_u,
           COALESCE(src.s_exact, 1) AND COALESCE(src.b_exact, 1) AS exact,
           src.s_price AS s_price, src.b_price AS b_price, src.s_cost AS s_cost,
           src.b_cost AS b_cost, COALESCE(src.b_brand, src.s_brand) AS brand,
           -- The quantity the store should hold: the master's, less the pair's buffer (whole
           -- units, the share's part rounded down), never below 0; a master <= 0 as it is.
           CASE WHEN src.b_quantity > 0 AND (:buffer_u > 0 OR :buffer_num > 0)
                THEN max(0, src.b_quantity - :buffer_u
                         - src.b_quantity * :buffer_num / :buffer_den / 1000000 * 1000000)
                ELSE src.b_quantity END AS bqb,
           -- Intended differences, a bit per field (1 quantity, 2 price, 4 cost); the lookup
           -- only runs when the pair has any marks (:marked), so it costs nothing otherwise.
           CASE WHEN :marked THEN COALESCE((
               SELECT max(g.field IN ('quantity', :whole)) + 2 * max(g.field IN ('price', :whole))
                      + 4 * max(g.field IN ('cost', :whole))
               FROM intended AS g WHERE g.pair = src.pair AND g.key = src.key), 0)
           ELSE 0 END AS marks
    FROM {src} AS src
    WHERE src.pair = :pair {where}
), coded AS (
    SELECT *,
        CASE WHEN NOT matched THEN '-' WHEN same_name OR NOT same_bare THEN 'S' ELSE 'N' END
            AS c_ns,
        CASE WHEN NOT matched THEN '-' WHEN same_name OR same_bare THEN 'S' ELSE 'N' END AS c_n,
        CASE WHEN NOT matched OR NOT :options THEN '-' WHEN same_variants THEN 'S' ELSE 'N' END
            AS c_iv,
        CASE WHEN NOT matched OR NOT :brand THEN '-' WHEN same_brand THEN 'S' ELSE 'N' END
            AS c_b,
        CASE WHEN NOT matched OR base OR bq IS NULL THEN '-' WHEN marks & 1 THEN 'I'
             WHEN bq < 0 THEN 'N' ELSE 'S' END AS c_qn,
        CASE WHEN NOT matched OR base OR sq IS NULL OR bq IS NULL THEN '-'
             WHEN marks & 1 THEN 'I'
             WHEN bq >= 0 AND sq <> bqb AND pending > 0 AND bqb - sq = pending_u THEN 'N'
             ELSE 'S' END AS c_qp,
        CASE WHEN NOT matched OR base OR sq IS NULL OR bq IS NULL THEN '-'
             WHEN marks & 1 THEN 'I'
             WHEN bq >= 0 AND sq <> bqb AND NOT (pending > 0 AND bqb - sq = pending_u) THEN 'N'
             ELSE 'S' END AS c_q,
        CASE WHEN NOT matched OR base OR (sp IS NULL AND bp IS NULL) THEN '-'
             WHEN marks & 2 THEN 'I'
             WHEN sp IS NULL OR bp IS NULL THEN 'N'
             WHEN exact AND abs(sp - bp) > :tolerance THEN 'N'
             WHEN NOT exact AND money_gap_over(s_price, b_price, :tolerance_text) THEN 'N'
             ELSE 'S' END AS c_p,
        CASE WHEN NOT matched OR base OR NOT :cost OR sc IS NULL OR bc IS NULL THEN '-'
             WHEN marks & 4 THEN 'I'
             WHEN exact AND sc <> bc THEN 'N'
             WHEN NOT exact AND money_gap_over(s_cost, b_cost, '0') THEN 'N'
             ELSE 'S' END AS c_c
    FROM cells
)
SELECT pair, pos, key, sku, name,
       CASE WHEN base THEN 'base'
            WHEN store_only THEN 'store_only'
            WHEN backoffice_only THEN 'backoffice_only'
            WHEN duplicate THEN 'duplicate_sku'
            WHEN pending > 0 THEN 'in_orders'
            WHEN 'N' IN (c_q, c_qn, c_p, c_c) THEN 'out_of_sync'
            ELSE 'in_sync' END AS status,
       store_rid, backoffice_rid, sides, duplicate, pending,
       c_n, c_ns, c_iv, c_b, c_q, c_qp, c_qn, c_p, c_c, brand, SORT_VALUES
FROM coded
""".replace("SORT_VALUES", ", ".join(f"{e} AS {n}" for n, e in ROW_TRIAGE_VALUES.items()))

ROW_COLUMNS = (
    "pair, pos, key, sku, name, status, store_rid, backoffice_rid, sides, duplicate, pending, "
    "c_n, c_ns, c_iv, c_b, c_q, c_qp, c_qn, c_p, c_c, brand, " + ", ".join(ROW_TRIAGE_VALUES)
)


def _params(cache: Cache, pair: str, policy: Policy) -> dict[str, object]:
    both = (policy.store, policy.backoffice)
    buffer = policy.quantity_buffer or QuantityBuffer()
    # share = num / den exactly; config allows at most two decimals of a percent, so the SQL
    # product quantity_u * num stays far inside 64-bit integers.
    num, den = buffer.share.as_integer_ratio()
    return {
        "pair": pair,
        "buffer_u": buffer.units * 1_000_000,
        "buffer_num": num,
        "buffer_den": den,
        "marked": cache.has_intents(pair),
        "whole": WHOLE_SKU,
        "tolerance": policy.tolerance_micros,
        "tolerance_text": str(policy.price_tolerance),
        "options": all(c.has_options for c in both),
        "brand": all(c.has_brand for c in both),
        "cost": all(c.has_cost for c in both),
    }


def reconcile(cache: Cache, pair: str, policy: Policy) -> int:
    """Rebuild every row of a pair from its cached items; returns the row count."""
    with cache.transaction() as conn:
        params = _params(cache, pair, policy)
        for table in _PAIRING_TEMP_TABLES:
            conn.execute(f"DROP TABLE IF EXISTS temp.{table}")
        for statement in _PAIRING:
            conn.execute(statement, {"pair": pair})
        for index in ROW_TRIAGE_INDEXES:
            conn.execute(f"DROP INDEX IF EXISTS {index}")
        conn.execute("DELETE FROM rows WHERE pair = :pair", params)
        conn.execute(
            f"INSERT INTO rows ({ROW_COLUMNS}) " + _SCORING.format(src=_PAIRED, where=""),
            params,
        )
        for index, columns in ROW_TRIAGE_INDEXES.items():
            conn.execute(f"CREATE INDEX {index} ON {columns}")
        for table in _PAIRING_TEMP_TABLES:
            conn.execute(f"DROP TABLE temp.{table}")
        count = conn.execute("SELECT count(*) FROM rows WHERE pair = ?", (pair,)).fetchone()[0]
    return int(count)


def rescore(cache: Cache, pair: str, policy: Policy, keys: Sequence[str]) -> None:
    """Recompute cells and status of some rows (by key) after their items' values changed."""
    # Named: without statistics SQLite would rather walk the whole pair in pos order.
    _rescore(cache, pair, policy, "r.key IN ({})", list(keys), "INDEXED BY rows_by_key")


def rescore_items(cache: Cache, pair: str, policy: Policy, rowids: Sequence[int]) -> None:
    """Recompute the rows of these items (cache rowids), after a refresh changed their values:
    their keys first, one indexed lookup per side (an OR of the two would scan every row)."""
    ids = [int(r) for r in rowids]
    keys: set[str] = set()
    for start in range(0, len(ids), 400):
        part = ", ".join(str(i) for i in ids[start : start + 400])
        for column, index in (
            ("store_rid", "rows_by_store_item"),
            ("backoffice_rid", "rows_by_backoffice_item"),
        ):
            keys.update(
                str(k)
                for (k,) in cache.conn.execute(
                    f"SELECT key FROM rows INDEXED BY {index} "
                    f"WHERE pair = ? AND {column} IN ({part})",
                    (pair,),
                )
            )
    rescore(cache, pair, policy, sorted(keys))


def _rescore(
    cache: Cache,
    pair: str,
    policy: Policy,
    condition: str,
    values: Sequence[object],
    hint: str = "",
) -> None:
    chunk = 400
    with cache.transaction() as conn:
        params = _params(cache, pair, policy)
        for start in range(0, len(values), chunk):
            part = values[start : start + chunk]
            names = {f"v{i}": v for i, v in enumerate(part)}
            # The filter goes inside the rows' subquery, where an index on rows serves it; on
            # the outer query SQLite would score every row first (600 ms at 100k, for 50).
            inner = "AND " + condition.format(", ".join(f":{n}" for n in names))
            conn.execute(
                f"INSERT OR REPLACE INTO rows ({ROW_COLUMNS}) "
                + _SCORING.format(src=_ROWS_WITH_ITEMS.format(inner=inner, hint=hint), where=""),
                {**params, **names},
            )


def _names(label: str, store: object, backoffice: object) -> str:
    return f"{label} {store} in store, {backoffice} in backoffice"


def intent_words(row: Row) -> list[str]:
    """The row's intended differences in words (the note is the seller's own text)."""
    return [
        f"{mark.what}: intended difference" + (f": {mark.note}" if mark.note else "")
        for mark in row.intended
    ]


def reasons(row: Row, buffer: QuantityBuffer | None = None) -> list[str]:
    """Why a row has its status and each of its N cells, in words a seller reads. `buffer`:
    the pair's quantity buffer, when Q was scored against it (sync.policy_for)."""
    s, b = row.store, row.backoffice
    out: list[str] = []
    if row.status is Status.BASE:
        out.append("base product: it only groups variants; its variants sync, it does not")
    elif row.status is Status.STORE_ONLY:
        out.append(f"only in the store: no back-office item has SKU {row.sku!r}")
    elif row.status is Status.BACKOFFICE_ONLY:
        out.append(f"only in the back office: no store item has SKU {row.sku!r}")
    elif row.status is Status.DUPLICATE_SKU:
        out.append(f"SKU {row.sku!r} is on several items of one side: resolve it before syncing")
    if row.pending_quantity:
        out.append(
            f"{row.pending_quantity} in orders not yet posted to the back office: "
            "quantity waits until they are"
        )
    if s is None or b is None:
        return out + intent_words(row)
    cells = row.cells
    if cells["N"] == "N":
        out.append(_names("name", repr(s.name), repr(b.name)))
    if cells["NS"] == "N":
        out.append("name differs only by the SKU appended to one side (intentional)")
    if cells["IV"] == "N":
        if s.is_base or b.is_base:
            out.append("variants differ (count or options) between the sides")
        else:
            out.append(
                _names(
                    "options", options_text(s.options) or "none", options_text(b.options) or "none"
                )
            )
    if cells["B"] == "N":
        out.append(_names("brand", repr(s.brand or ""), repr(b.brand or "")))
    if cells["Q"] == "N":
        if buffer is not None and b.quantity is not None:
            out.append(
                _names("quantity", s.quantity, b.quantity)
                + f" (the store should hold {buffer.apply(b.quantity)}: quantity_buffer "
                f"{buffer})"
            )
        else:
            out.append(_names("quantity", s.quantity, b.quantity))
    if cells["QP"] == "N":
        out.append(
            _names("quantity", s.quantity, b.quantity)
            + f": the {row.pending_quantity} in pending orders explain it"
        )
    if cells["QN"] == "N":
        out.append(f"quantity {b.quantity} in backoffice: negative, a store cannot take it")
    if cells["P"] == "N":
        out.append(_names("price", s.price, b.price))
    if cells["C"] == "N":
        out.append(_names("cost", s.cost, b.cost))
    out.extend(intent_words(row))
    return out
