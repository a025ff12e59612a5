"""The seeded catalog generator: a store and a back office that mostly agree, as real ones do.

Every sellable SKU slot draws a situation label from a shuffled deck of 2,000 (or `size`, if
smaller) whose counts are `RATES`, per 2,000 SKUs, so every size from `FULL_FROM` SKUs up to a
million shows every cell code and status of DESIGN.md section 4 in the same proportions, and a
fixed seed always gives the same catalog. Rows are streamed into SQLite in chunks inside one
transaction: memory stays flat from 2,000 SKUs to 1,000,000.
"""

from __future__ import annotations

import functools
import os
import random
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from tui_sync.sandbox import remote

MAX_SIZE = 1_000_000
CHUNK = 20_000  # item rows per executemany: big enough to amortise, small enough to stay lean
BLOCK = 2000
FULL_FROM = 150  # from this many SKUs, each situation is planted at least once

# Situations per 2,000 SKUs; the rest (~85%) are fully in sync ("ok"). Codes are DESIGN.md's.
# QO: in pending orders but the gap is something else; QZ: in pending orders, no gap;
# SO/BO: store only / back office only; DUP: the SKU on two items of one side;
# CASE: the SKUs differ only in case or surrounding spaces (they still match, and agree).
RATES: dict[str, int] = {
    "Q": 60, "P": 40, "N": 15, "NS": 15, "IV": 15, "B": 15, "C": 15, "QN": 15, "QP": 15,
    "QO": 6, "QZ": 6, "SO": 15, "BO": 15, "DUP": 5, "CASE": 12,
}  # fmt: skip
VARIANT_ONLY = frozenset({"IV"})  # only variants have options and a parent
SIMPLE_ONLY = frozenset({"SO", "BO"})  # an unmatched variant would also skew its base's IV
SIMPLE_SHARE = 0.45  # of products that are simple items rather than bases with variants
POSTED_SHARE = 0.02  # of in-sync SKUs with an order the back office has already posted


class Category(NamedTuple):
    products: tuple[tuple[str, str], ...]  # (SKU prefix, noun)
    adjectives: tuple[str, ...]
    brands: tuple[str, ...]
    first: tuple[str, tuple[tuple[str, str], ...]]  # option name, (value, SKU code)
    second: tuple[str, tuple[tuple[str, str, int], ...]]  # option, (value, code, extra cents)
    dollars: tuple[int, int]  # base price range


CATEGORIES: tuple[Category, ...] = (
    Category(
        (("TSHIRT", "Cotton Tee"), ("HOODIE", "Pullover Hoodie"), ("SOCK", "Crew Socks"),
         ("JACKET", "Denim Jacket"), ("POLO", "Pique Polo"), ("BEANIE", "Knit Beanie"),
         ("SHELL", "Rain Shell"), ("CHINO", "Chino Pants")),
        ("Classic", "Organic", "Vintage", "Everyday", "Relaxed"),
        ("Northwind Apparel", "Bluebird", "Pine & Oak", "Urban Thread"),
        ("Color", (("Red", "RED"), ("Navy", "NAVY"), ("Black", "BLK"), ("White", "WHT"),
                   ("Heather Grey", "GRY"), ("Forest Green", "GRN"))),
        ("Size", (("XS", "XS", 0), ("S", "S", 0), ("M", "M", 0), ("L", "L", 0),
                  ("XL", "XL", 200), ("XXL", "XXL", 300))),
        (9, 89),
    ),
    Category(
        (("HAMMER", "Claw Hammer"), ("DRILL", "Cordless Drill"), ("TAPE", "Tape Measure"),
         ("SCREW", "Wood Screws"), ("KNIFE", "Utility Knife"), ("SOCKET", "Socket Set"),
         ("GLOVE", "Work Gloves"), ("LIGHT", "LED Flashlight")),
        ("Heavy-Duty", "Pro", "Compact", "Essential", "Contractor"),
        ("Ironclad", "BuildRight", "Stanwick Tools", "Forge & Co"),
        ("Finish", (("Black", "BLK"), ("Yellow", "YEL"), ("Orange", "ORG"), ("Steel", "STL"))),
        ("Size", (("S", "S", 0), ("M", "M", 0), ("L", "L", 100), ("XL", "XL", 200))),
        (4, 249),
    ),
    Category(
        (("COFFEE", "Ground Coffee"), ("TEA", "Loose Leaf Tea"), ("OIL", "Olive Oil"),
         ("HONEY", "Raw Honey"), ("PASTA", "Dried Pasta"), ("GRANOLA", "Granola"),
         ("SALSA", "Salsa"), ("CHOC", "Dark Chocolate")),
        ("Organic", "Artisan", "Classic", "Premium", "Small-Batch"),
        ("Harvest Table", "Green Valley", "Old Mill", "Sunny Acres"),
        ("Flavor", (("Original", "ORIG"), ("Vanilla", "VAN"), ("Hazelnut", "HAZ"),
                    ("Sea Salt", "SALT"), ("Smoky", "SMK"))),
        ("Size", (("8 oz", "8OZ", 0), ("12 oz", "12OZ", 150), ("16 oz", "16OZ", 300),
                  ("32 oz", "32OZ", 700))),
        (3, 29),
    ),
    Category(
        (("PILLOW", "Throw Pillow"), ("MUG", "Ceramic Mug"), ("TOWEL", "Bath Towel"),
         ("CANDLE", "Scented Candle"), ("LAMP", "Table Lamp"), ("BASKET", "Storage Basket")),
        ("Hand-Made", "Nordic", "Everyday", "Rustic", "Modern"),
        ("Hearthside", "Casa Linda", "Nordhaus", "Willow Home"),
        ("Color", (("Ivory", "IVY"), ("Sage", "SAGE"), ("Terracotta", "TER"),
                   ("Charcoal", "CHR"), ("Blue", "BLU"))),
        ("Size", (("S", "S", 0), ("M", "M", 300), ("L", "L", 600))),
        (6, 129),
    ),
)  # fmt: skip
# A back office's own wording: N swaps the adjective for one no category uses.
RENAMED = ("Deluxe", "Basic", "Signature", "Old", "New")
# How a back office retyped a size (IV); values not listed lose their spaces ("8 oz" -> "8oz").
ALIASES = {"XS": "X-Small", "S": "Small", "M": "Medium", "L": "Large", "XL": "X-Large"}
ALIASES["XXL"] = "2XL"
CENTS = (99, 49, 95, 0)

_Row = tuple[
    str, str, str | None, str, str | None, int | None, str, str | None, str | None, int, str, int
]
_Order = tuple[str, str, int, str, int]


class _Variant(NamedTuple):
    suffix: str  # appended to the base SKU: "-RED-M"
    label: str  # appended to the base name: " (Red, M)"
    options: str  # encoded: "Color=Red;Size=M"
    retyped: str  # the same as a back office retyped it (IV): "Color=Red;Size=Medium"
    extra: int  # cents over the base price: bigger sizes cost more


def _variants(category: Category) -> tuple[_Variant, ...]:
    """Every option combination of a category, encoded once rather than per SKU."""
    (first, firsts), (second, seconds) = category.first, category.second
    combos = []
    for value, code in firsts:
        for size, size_code, extra in seconds:
            alias = ALIASES.get(size, size.replace(" ", ""))
            combos.append(
                _Variant(
                    f"-{code}-{size_code}",
                    f" ({value}, {size})",
                    remote.encode_options(((first, value), (second, size))),
                    remote.encode_options(((first, value), (second, alias))),
                    extra,
                )
            )
    return tuple(combos)


KINDS = tuple((category, _variants(category)) for category in CATEGORIES)


@functools.cache  # a few thousand distinct amounts, formatted millions of times
def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


class _Generator:
    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.rng = random.Random(seed)
        self.rows: list[_Row] = []
        self.orders: list[_Order] = []
        self.deck: list[str] = []
        self.carry: list[str] = []
        self.product = 100  # store product ids; a base SKU's number is product - 100
        self.variant = 1000  # store variant ids
        self.bo_id = 0  # back-office item ids
        self.order_id = 100_000
        self.open_order: tuple[str, str] | None = None  # (order id, status) taking more lines

    def run(self, conn: sqlite3.Connection) -> None:
        done = 0
        while done < self.size:
            done += self._product(self.size - done)
            if len(self.rows) >= CHUNK:
                self._flush(conn)
        self._flush(conn)

    def _flush(self, conn: sqlite3.Connection) -> None:
        marks = ",".join("?" * 12)
        conn.executemany(f"INSERT INTO items ({remote.ITEM_COLUMNS}) VALUES ({marks})", self.rows)
        conn.executemany("INSERT INTO orders VALUES (?,?,?,?,?)", self.orders)
        self.rows.clear()
        self.orders.clear()

    # -- labels ---------------------------------------------------------------------------------

    def _refill(self) -> None:
        block = min(self.size, BLOCK)
        labels: list[str] = []
        for label, rate in RATES.items():
            count = round(rate * block / BLOCK)
            # In small catalogs rounding would drop the rare situations; keep one of each.
            labels += [label] * (max(1, count) if block >= FULL_FROM else count)
        labels += ["ok"] * max(0, block - len(labels))
        self.rng.shuffle(labels)
        self.deck = labels

    def _label(self, variant: bool) -> str:
        if not self.deck:
            self._refill()
        drawn = self.deck.pop()
        if drawn == "ok" and not self.carry:
            return drawn
        if drawn != "ok":
            self.carry.append(drawn)
        # A label that cannot apply to this slot waits for the next one that can.
        unfit = SIMPLE_ONLY if variant else VARIANT_ONLY
        for i, label in enumerate(self.carry):
            if label not in unfit:
                return self.carry.pop(i)
        return "ok"

    # -- orders ---------------------------------------------------------------------------------

    def _next_bo(self) -> str:
        self.bo_id += 1
        return str(self.bo_id)

    def _order(self, sku: str, quantity: int, posted: bool = False) -> None:
        rng = self.rng
        if posted:
            self.order_id += 1
            status = rng.choice(remote.POSTED_STATUSES)
            self.orders.append((str(self.order_id), sku, quantity, status, 1))
            return
        # Real orders often carry several lines: a pending line may join the last open order.
        if self.open_order is None or rng.random() < 0.6:
            self.order_id += 1
            self.open_order = (str(self.order_id), rng.choice(remote.PENDING_STATUSES))
        order_id, status = self.open_order
        self.orders.append((order_id, sku, quantity, status, 0))

    def _pending(self, sku: str, quantity: int) -> None:
        # Sometimes over two orders: the gap must equal their sum, not one order's line.
        if quantity > 1 and self.rng.random() < 0.3:
            first = self.rng.randint(1, quantity - 1)
            self._order(sku, first)
            self.open_order = None
            self._order(sku, quantity - first)
        else:
            self._order(sku, quantity)

    # -- catalog --------------------------------------------------------------------------------

    def _product(self, remaining: int) -> int:
        """One simple item, or a base with 2-6 variants; returns the sellable SKUs it made."""
        rng = self.rng
        category, variants = rng.choice(KINDS)
        prefix, noun = rng.choice(category.products)
        self.product += 1
        base_sku = f"{prefix}-{self.product - 100:04d}"
        name = f"{rng.choice(category.adjectives)} {noun}"
        brand = rng.choice(category.brands)
        low, high = category.dollars
        price = rng.randint(low, high) * 100 + rng.choice(CENTS)
        if remaining < 2 or rng.random() < SIMPLE_SHARE:
            self._item(base_sku, name, brand, price, None, None)
            return 1
        pid, bo_base, text_price = str(self.product), self._next_bo(), _money(price)
        self.rows += (
            ("store", pid, base_sku, name, brand, None, text_price, None, None, 1, "", 1),
            ("backoffice", bo_base, base_sku, name, brand, None, text_price, None, None, 1, "", 1),
        )
        count = min(rng.randint(2, 6), remaining)
        for index in sorted(rng.sample(range(len(variants)), count)):
            variant = variants[index]
            sku, label = base_sku + variant.suffix, name + variant.label
            self._item(sku, label, brand, price + variant.extra, (pid, bo_base), variant)
        return count

    def _item(
        self,
        sku: str,
        name: str,
        brand: str,
        price: int,
        parents: tuple[str, str] | None,
        variant: _Variant | None,
    ) -> None:
        """One sellable SKU on both sides, with the situation its label plants."""
        rng = self.rng
        label = self._label(variant is not None)
        # int(random() * n) rather than randint: several times cheaper, and this runs 1M times.
        cost = price * (35 + int(rng.random() * 31)) // 100
        quantity = min(200, int(rng.expovariate(1 / 30)))
        s_parent, b_parent = parents or (None, None)
        options = variant.options if variant else ""
        self.variant += 1
        store_id = f"{s_parent or self.product}:{self.variant}"
        s_price, s_cost = _money(price), _money(cost)
        if label == "ok":  # the fast path: ~85% of all SKUs
            if rng.random() < POSTED_SHARE:
                self._order(sku, rng.randint(1, 3), posted=True)  # history, already posted
            self.rows += (
                ("store", store_id, sku, name, brand, quantity, s_price, s_cost, s_parent, 0,
                 options, 1),
                ("backoffice", self._next_bo(), sku, name, brand, quantity, s_price, s_cost,
                 b_parent, 0, options, 1),
            )  # fmt: skip
            return
        b_sku, b_name, b_brand, b_options = sku, name, brand, options
        b_quantity, b_price, b_cost = quantity, s_price, s_cost
        if label == "Q":
            quantity = min(quantity, 185)
            b_quantity = quantity + rng.choice((-1, 1)) * rng.randint(1, 12)
            if b_quantity < 0:
                b_quantity = quantity + rng.randint(1, 12)
        elif label == "P":
            changed = price + rng.choice((-100, -50, 50, 100, 200, 500))
            b_price = _money(changed if changed > cost else price + 300)
        elif label == "N":
            b_name = f"{rng.choice(RENAMED)} {name.split(' ', 1)[1]}"
        elif label == "NS":
            # One side made the name unique by appending its own SKU, as sellers do.
            appended = name + rng.choice((f" - {sku}", f" ({sku})", f" {sku}"))
            name, b_name = (appended, name) if rng.random() < 0.5 else (name, appended)
        elif label == "IV" and variant is not None:
            if rng.random() < 0.3:  # never linked to its parent: the variant counts differ
                b_parent, b_options = None, ""
            else:
                b_options = variant.retyped
        elif label == "B":
            b_brand = rng.choice((None, f"{brand} Inc.", f"{brand} Co."))
        elif label == "C":
            b_cost = _money(max(1, min(cost + rng.choice((-25, 25, 50, 100)), price - 1)))
            if b_cost == s_cost:
                b_cost = _money(cost - 1 if cost > 1 else cost + 1)
        elif label == "QN":
            quantity, b_quantity = 0, -rng.randint(1, 8)
        elif label in ("QP", "QO", "QZ"):
            quantity = min(quantity, 185)
            waiting = rng.randint(1, 4)
            self._pending(sku, waiting)
            gap = {"QP": waiting, "QO": waiting + rng.randint(1, 5), "QZ": 0}[label]
            b_quantity = quantity + gap
        elif label == "CASE":
            b_sku = rng.choice((sku.lower(), f" {sku}", f"{sku} ", sku.title(), f" {sku.lower()} "))
        if label != "BO":
            self.rows.append(
                ("store", store_id, sku, name, brand, quantity, s_price, s_cost, s_parent, 0,
                 options, 1)
            )  # fmt: skip
        if label != "SO":
            self.rows.append(
                ("backoffice", self._next_bo(), b_sku, b_name, b_brand, b_quantity, b_price,
                 b_cost, b_parent, 0, b_options, 1)
            )  # fmt: skip
        if label == "DUP":
            self._duplicate(sku, name, brand, s_price, s_cost)

    def _duplicate(self, sku: str, name: str, brand: str, price: str, cost: str) -> None:
        """A second listing of the SKU on one side: an old one nobody deleted."""
        rng = self.rng
        if rng.random() < 0.5:
            self.product += 1
            self.variant += 1
            dup_id, quantity = f"{self.product}:{self.variant}", rng.randint(0, 5)
            self.rows.append(("store", dup_id, sku, name, brand, quantity, price, cost, None, 0, "", 1))
        else:
            bo_id, quantity = self._next_bo(), rng.randint(-2, 5)
            self.rows.append(
                ("backoffice", bo_id, sku, name, brand, quantity, price, cost, None, 0, "", 1)
            )


def generate(path: Path, size: int = 2000, seed: int = 7) -> None:
    """(Re)create the sandbox state at `path` with about `size` SKUs per side, deterministically.

    Written to a temporary file and moved into place, so a failure never leaves half a sandbox
    and an existing one stays as it was.
    """
    if not 1 <= size <= MAX_SIZE:
        raise ValueError(f"sandbox size must be between 1 and {MAX_SIZE:,}, not {size:,}")
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        # Autocommit mode: the one transaction below is ours, begun and committed explicitly.
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            # Nothing to protect while generating: a crash just leaves a temp file to discard.
            conn.execute("PRAGMA journal_mode = OFF")
            conn.execute("PRAGMA synchronous = OFF")
            conn.execute("PRAGMA cache_size = -16000")  # 16 MB: the index sorts need no more
            conn.execute("BEGIN")
            for statement in remote.SCHEMA:
                conn.execute(statement)
            _Generator(size, seed).run(conn)
            # Indexes after the bulk load: one sort at the end beats maintaining them per row.
            for statement in remote.INDEXES:
                conn.execute(statement)
            counts = dict(conn.execute("SELECT side, COUNT(*) FROM items GROUP BY side"))
            meta = {
                "size": size,
                "seed": seed,
                "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "store_items": counts.get("store", 0),
                "backoffice_items": counts.get("backoffice", 0),
            }
            conn.executemany("INSERT INTO meta VALUES (?, ?)", [(k, str(v)) for k, v in meta.items()])
            conn.execute("COMMIT")
        finally:
            conn.close()
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
