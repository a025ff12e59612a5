"""The seeded catalog generator: a store and a back office that mostly agree, as real ones do.

Every sellable SKU slot draws a label from a shuffled deck of 2,000 (or `size`, if smaller) whose
counts follow DESIGN.md's situations per 2,000 SKUs, so every size shows every situation in about
the same proportion and a fixed seed always gives the same catalog. Rows are streamed into SQLite
in chunks: memory stays flat from 2,000 SKUs to 1,000,000.
"""

from __future__ import annotations

import functools
import os
import random
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

MAX_SIZE = 1_000_000
CHUNK = 10_000
BLOCK = 2000

# Situations per 2,000 SKUs. QO: in pending orders with another gap; QZ: in orders, no gap;
# SO/BO: store-only/back-office-only; DUP: one SKU on two items of a side; CASE: SKU differs
# only in case or surrounding spaces (still in sync). Everything else is "ok".
RATES: dict[str, int] = {
    "Q": 60,
    "P": 40,
    "N": 15,
    "NS": 15,
    "IV": 15,
    "B": 15,
    "C": 15,
    "QN": 15,
    "QP": 12,
    "QO": 5,
    "QZ": 5,
    "SO": 15,
    "BO": 15,
    "DUP": 4,
    "CASE": 10,
}
VARIANT_ONLY = frozenset({"IV"})  # options exist only on variants
SIMPLE_ONLY = frozenset({"SO", "BO"})  # an unmatched variant would also skew its base's IV

# category -> (prefix, noun) products, brands, colors (name, code), sizes, price range in dollars
_Category = tuple[
    tuple[tuple[str, str], ...],
    tuple[str, ...],
    tuple[tuple[str, str], ...],
    tuple[str, ...],
    tuple[int, int],
]
CATEGORIES: tuple[_Category, ...] = (
    (
        (("TEE", "Cotton Tee"), ("HOOD", "Pullover Hoodie"), ("SOCK", "Crew Socks"),
         ("JKT", "Denim Jacket"), ("POLO", "Pique Polo"), ("BEAN", "Knit Beanie"),
         ("RAIN", "Rain Shell"), ("CHNO", "Chino Pants")),
        ("Northwind Apparel", "Bluebird", "Pine & Oak", "Urban Thread"),
        (("Red", "RED"), ("Navy", "NVY"), ("Black", "BLK"), ("White", "WHT"),
         ("Heather Grey", "GRY"), ("Forest Green", "GRN")),
        ("XS", "S", "M", "L", "XL", "XXL"),
        (9, 89),
    ),
    (
        (("HAM", "Claw Hammer"), ("DRL", "Cordless Drill"), ("TAPE", "Tape Measure"),
         ("SCRW", "Wood Screws"), ("KNF", "Utility Knife"), ("SKT", "Socket Set"),
         ("GLV", "Work Gloves"), ("LITE", "LED Flashlight")),
        ("Ironclad", "BuildRight", "Stanwick Tools", "Forge & Co"),
        (("Black", "BLK"), ("Yellow", "YEL"), ("Orange", "ORG"), ("Steel", "STL")),
        ("S", "M", "L", "XL"),
        (4, 249),
    ),
    (
        (("PILW", "Throw Pillow"), ("MUG", "Ceramic Mug"), ("TOWL", "Bath Towel"),
         ("CNDL", "Scented Candle"), ("LAMP", "Table Lamp"), ("NAPK", "Linen Napkins"),
         ("BSKT", "Storage Basket"), ("CLCK", "Wall Clock")),
        ("Hearthside", "Casa Linda", "Nordhaus", "Willow Home"),
        (("Ivory", "IVY"), ("Sage", "SGE"), ("Terracotta", "TER"), ("Charcoal", "CHR"),
         ("Blue", "BLU")),
        ("S", "M", "L"),
        (6, 129),
    ),
)  # fmt: skip
ADJECTIVES = ("Classic", "Organic", "Heavy-Duty", "Everyday", "Premium", "Vintage", "Essential")
# What a back office calls the same option value when someone typed it differently (IV).
ALIASES = {"S": "Small", "M": "Medium", "L": "Large", "XL": "X-Large", "XS": "X-Small"}
CENTS = ("99", "49", "95", "00")
PENDING_STATUSES = ("Awaiting Fulfillment", "Awaiting Shipment", "Awaiting Payment")
POSTED_STATUSES = ("Completed", "Shipped")

# The scratch file the catalog is drawn into, before `seed` lays it out as the two vendors hold
# it: one row per item and side (store ids "product:variant", bases "product"; back-office ids
# plain numbers), money as exact text, options "Name=Value;Name=Value"; and store order lines,
# posted = 1 once the back office has imported the order.
SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE items (
    side TEXT NOT NULL, id TEXT NOT NULL, sku TEXT, name TEXT NOT NULL, brand TEXT,
    quantity INTEGER, price TEXT, cost TEXT, parent_id TEXT,
    is_base INTEGER NOT NULL DEFAULT 0, options TEXT NOT NULL DEFAULT '',
    version INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE orders (
    order_id TEXT NOT NULL, sku TEXT NOT NULL, quantity INTEGER NOT NULL,
    status TEXT NOT NULL, posted INTEGER NOT NULL DEFAULT 0
);
"""
# Built after the bulk load: maintaining them row by row would cost more than one sort at the end.
INDEXES = """
CREATE INDEX items_page ON items (side);
CREATE UNIQUE INDEX items_id ON items (side, id);
"""
ITEM_COLUMNS = (
    "side, id, sku, name, brand, quantity, price, cost, parent_id, is_base, options, version"
)


def encode_options(options: tuple[tuple[str, str], ...]) -> str:
    return ";".join(f"{name}={value}" for name, value in options)


def decode_options(text: str | None) -> tuple[tuple[str, str], ...]:
    if not text:
        return ()
    pairs = (part.partition("=") for part in text.split(";"))
    return tuple((name, value) for name, _, value in pairs)


_Row = tuple[
    str, str, str | None, str, str | None, int | None, str, str | None, str | None, int, str, int
]


@functools.cache  # a few thousand distinct amounts, formatted millions of times
def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


class _Generator:
    def __init__(self, conn: sqlite3.Connection, size: int, seed: int) -> None:
        self.conn = conn
        self.size = size
        self.rng = random.Random(seed)
        self.rows: list[_Row] = []
        self.orders: list[tuple[str, str, int, str, int]] = []
        self.deck: list[str] = []
        self.carry: list[str] = []
        self.counts = {"store": 0, "backoffice": 0}
        self.product_id = 100
        self.variant_id = 1000
        self.bo_id = 1
        self.order_id = 100_000
        self.progress: Callable[[int, int], None] | None = None

    # -- labels ---------------------------------------------------------------------------------

    def _refill(self) -> None:
        block = min(self.size, BLOCK)
        labels: list[str] = []
        for label, rate in RATES.items():
            count = round(rate * block / BLOCK)
            # Below ~300 SKUs rounding would drop the rare situations; keep one of each.
            labels += [label] * (max(1, count) if block >= 300 else count)
        labels += ["ok"] * max(0, block - len(labels))
        self.rng.shuffle(labels)
        self.deck = labels

    def _label(self, variant: bool) -> str:
        if not self.deck:
            self._refill()
        drawn = self.deck.pop()
        if drawn != "ok":
            self.carry.append(drawn)
        # A label that cannot apply to this slot waits for the next one that can.
        for i, label in enumerate(self.carry):
            if label in (SIMPLE_ONLY if variant else VARIANT_ONLY):
                continue
            return self.carry.pop(i)
        return "ok"

    # -- output ---------------------------------------------------------------------------------

    def _emit(self, row: _Row) -> None:
        self.rows.append(row)
        self.counts[row[0]] += 1
        if len(self.rows) >= CHUNK:
            self._flush()

    def _flush(self) -> None:
        self.conn.executemany(
            f"INSERT INTO items ({ITEM_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            self.rows,
        )
        self.conn.executemany("INSERT INTO orders VALUES (?,?,?,?,?)", self.orders)
        self.rows.clear()
        self.orders.clear()

    def _order(self, sku: str, quantity: int, posted: bool) -> None:
        self.order_id += 1
        statuses = POSTED_STATUSES if posted else PENDING_STATUSES
        status = self.rng.choice(statuses)
        self.orders.append((str(self.order_id), sku, quantity, status, int(posted)))

    def _pending(self, sku: str, quantity: int) -> None:
        # Sometimes split over two orders: the gap must equal the sum, not one order's line.
        if quantity > 1 and self.rng.random() < 0.3:
            first = self.rng.randint(1, quantity - 1)
            self._order(sku, first, False)
            self._order(sku, quantity - first, False)
        else:
            self._order(sku, quantity, False)

    # -- catalog --------------------------------------------------------------------------------

    def run(self) -> None:
        progress, slots, reported = self.progress, 0, 0
        while slots < self.size:
            slots += self._product(self.size - slots)
            if progress and slots - reported >= CHUNK:
                reported = slots
                progress(slots, self.size)
        self._flush()

    def _product(self, remaining: int) -> int:
        rng = self.rng
        products, brands, colors, sizes, (low, high) = rng.choice(CATEGORIES)
        prefix, noun = rng.choice(products)
        self.product_id += 1
        base_sku = f"{prefix}-{self.product_id - 100:04d}"
        adjective = rng.choice(ADJECTIVES)
        brand = rng.choice(brands)
        price = rng.randint(low, high) * 100 + int(rng.choice(CENTS))
        if remaining < 2 or rng.random() < 0.45:
            self._item(base_sku, adjective, noun, "", brand, price, None, ())
            return 1
        pid = str(self.product_id)
        bo_base = str(self.bo_id)
        self.bo_id += 1
        name = f"{adjective} {noun}"
        text_price = _money(price)
        self._emit(("store", pid, base_sku, name, brand, None, text_price, None, None, 1, "", 1))
        self._emit(
            ("backoffice", bo_base, base_sku, name, brand, None, text_price, None, None, 1, "", 1)
        )
        count = min(rng.randint(2, 5), remaining)
        combos = sorted(rng.sample(range(len(colors) * len(sizes)), count))
        for combo in combos:
            (color, code), size = colors[combo // len(sizes)], sizes[combo % len(sizes)]
            sku = f"{base_sku}-{code}-{size}"
            options = (("Color", color), ("Size", size))
            # Bigger sizes cost a little more, as shops price them.
            extra = 200 if size in ("XL", "XXL") else 0
            suffix = f" ({color}, {size})"
            self._item(sku, adjective, noun, suffix, brand, price + extra, (pid, bo_base), options)
        return count

    def _item(
        self,
        sku: str,
        adjective: str,
        noun: str,
        suffix: str,
        brand: str,
        price: int,
        parents: tuple[str, str] | None,
        options: tuple[tuple[str, str], ...],
    ) -> None:
        rng = self.rng
        label = self._label(parents is not None)
        name = b_name = f"{adjective} {noun}{suffix}"
        # int(random() * n) rather than randint: several times cheaper, and this runs 2M times.
        cost = price * (35 + int(rng.random() * 31)) // 100
        quantity = min(200, int(rng.expovariate(1 / 30)))
        b_brand: str | None = brand
        b_sku, b_price, b_cost, b_quantity = sku, price, cost, quantity
        b_options, b_parent = options, parents[1] if parents else None
        if label == "Q":
            b_quantity = quantity + rng.choice((-1, 1)) * rng.randint(1, 12)
            if b_quantity < 0:
                b_quantity = quantity + rng.randint(1, 12)
        elif label == "P":
            b_price = price + rng.choice((-100, -50, 50, 100, 200, 500))
            if b_price <= cost:
                b_price = price + 300
        elif label == "N":
            other = rng.choice([a for a in ADJECTIVES if a != adjective])
            b_name = f"{other} {noun}{suffix}"
        elif label == "NS":
            appended = rng.choice((f" - {sku}", f" ({sku})", f" {sku}"))
            if rng.random() < 0.5:
                name += appended
            else:
                b_name += appended
        elif label == "IV":
            if rng.random() < 0.3:
                # The back office never linked this variant to its parent: variant counts differ.
                b_parent, b_options = None, ()
            else:
                color, size = options[0][1], options[1][1]
                b_options = (("Color", color), ("Size", ALIASES.get(size, size + " (old)")))
        elif label == "B":
            b_brand = rng.choice((None, f"{brand} Inc.", brand + " Co"))
        elif label == "C":
            b_cost = cost + rng.choice((-25, 25, 50, 100, 150))
            b_cost = max(1, min(b_cost, price - 1))
            if b_cost == cost:
                b_cost = max(1, cost - 1)
        elif label == "QN":
            quantity, b_quantity = 0, -rng.randint(1, 8)
        elif label in ("QP", "QO", "QZ"):
            pending = rng.randint(1, 4)
            self._pending(sku, pending)
            gap = {"QP": pending, "QO": pending + rng.randint(1, 5), "QZ": 0}[label]
            b_quantity = quantity + gap
        elif label == "CASE":
            b_sku = rng.choice(
                (sku.lower(), f" {sku}", f"{sku} ", sku.title(), f"  {sku.lower()} ")
            )
        elif label == "ok" and rng.random() < 0.02:
            self._order(sku, rng.randint(1, 3), True)  # history the back office already posted
        text_price, text_cost = _money(price), _money(cost)
        store_parent = parents[0] if parents else None
        encoded = encode_options(options) if options else ""
        if label != "BO":
            self.variant_id += 1
            store_id = f"{store_parent or self.product_id}:{self.variant_id}"
            self._emit(
                (
                    "store",
                    store_id,
                    sku,
                    name,
                    brand,
                    quantity,
                    text_price,
                    text_cost,
                    store_parent,
                    0,
                    encoded,
                    1,
                )
            )
        if label != "SO":
            self._emit(
                (
                    "backoffice",
                    str(self.bo_id),
                    b_sku,
                    b_name,
                    b_brand,
                    b_quantity,
                    _money(b_price),
                    _money(b_cost),
                    b_parent,
                    0,
                    encoded if b_options is options else encode_options(b_options),
                    1,
                )
            )
            self.bo_id += 1
        if label == "DUP":
            # A second listing of the same SKU, typically an old one someone forgot to delete.
            if rng.random() < 0.5:
                self.variant_id += 1
                self.product_id += 1
                dup_id = f"{self.product_id}:{self.variant_id}"
                self._emit(
                    (
                        "store",
                        dup_id,
                        sku,
                        name,
                        brand,
                        rng.randint(0, 5),
                        text_price,
                        text_cost,
                        None,
                        0,
                        "",
                        1,
                    )
                )
            else:
                self._emit(
                    (
                        "backoffice",
                        str(self.bo_id),
                        sku,
                        name,
                        brand,
                        rng.randint(-2, 5),
                        text_price,
                        text_cost,
                        None,
                        0,
                        "",
                        1,
                    )
                )
                self.bo_id += 1


def generate(
    path: Path,
    size: int = 2000,
    seed: int = 7,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """(Re)create the catalog at `path` with about `size` SKUs per side, deterministically.

    `progress(done, total)` is called as SKUs are generated (a large catalog takes seconds), and
    once with done == total when the file is in place.

    Written to a temporary file and moved into place, so a failure never leaves half a sandbox.
    """
    if not 1 <= size <= MAX_SIZE:
        raise ValueError(f"sandbox size must be between 1 and {MAX_SIZE:,}, not {size:,}")
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        conn = sqlite3.connect(tmp)
        try:
            # Nothing to protect while generating: a crash just leaves a temp file to discard.
            conn.execute("PRAGMA journal_mode = OFF")
            conn.execute("PRAGMA synchronous = OFF")
            conn.executescript(SCHEMA)
            conn.execute("BEGIN")
            generator = _Generator(conn, size, seed)
            generator.progress = progress
            generator.run()
            conn.executescript(INDEXES)  # executescript commits first; fine, same file
            created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            meta = {
                "size": str(size),
                "seed": str(seed),
                "created": created,
                "store_items": str(generator.counts["store"]),
                "backoffice_items": str(generator.counts["backoffice"]),
            }
            with conn:
                conn.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
        finally:
            conn.close()
        os.replace(tmp, path)
        if progress:
            progress(size, size)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
