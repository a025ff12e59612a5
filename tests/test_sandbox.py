"""The built-in sandbox pair: the seeded catalog laid out as a BigCommerce store and a QuickBooks
company, persisted in the data dir, served on loopback and read through the real connectors."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import pytest

from tui_sync.cache import name_bare, name_key, sku_key
from tui_sync.config import SANDBOX_PAIR
from tui_sync.connectors import Connectors, pair_connectors
from tui_sync.connectors.base import ConnectorError
from tui_sync.model import Item, PendingLine, Side
from tui_sync.sandbox import catalog, outside, pair, seed, state
from tui_sync.sandbox.state import SandboxStateError, ensure_sandbox

T = TypeVar("T")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sandbox") / "data"
    ensure_sandbox(path, size=2000)
    return path


def through(data_dir: Path, work: Callable[[Connectors], Awaitable[T]]) -> T:
    """`work` on the sandbox pair's two connectors, over HTTP, its servers started for it."""

    async def run() -> T:
        async with pair_connectors(data_dir, SANDBOX_PAIR) as connectors:
            return await work(connectors)

    return asyncio.run(run())


async def _all(connectors: Connectors, side: Side) -> list[Item]:
    return [item async for page in connectors[side].read_items() for item in page]


def read(data_dir: Path) -> tuple[list[Item], list[Item], list[PendingLine]]:
    """Both sides' items, and the store's pending order lines not yet posted in the books."""

    async def work(c: Connectors) -> tuple[list[Item], list[Item], list[PendingLine]]:
        lines = await c.store.read_pending()
        posted = await c.backoffice.posted_orders([line.order_id for line in lines])
        waiting = [line for line in lines if line.order_id not in posted]
        return await _all(c, "store"), await _all(c, "backoffice"), waiting

    return through(data_dir, work)


def by_key(items: list[Item], side: Side) -> dict[str, list[Item]]:
    keyed: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        if not item.is_base:
            keyed[sku_key(item.sku, side, item.id)].append(item)
    return keyed


def dump(data_dir: Path) -> list[tuple[object, ...]]:
    """Both vendors' state but the clock (stamps are "entered a month ago", from now)."""
    rows: list[tuple[object, ...]] = []
    conn = sqlite3.connect(state.store_path(data_dir))
    try:
        rows += conn.execute(
            "SELECT id, name, sku, brand_id, price, cost_price, inventory_level, "
            "inventory_tracking, base_variant_id FROM products"
        ).fetchall()
        for table in ("variants", "brands", "orders", "order_products"):
            rows += conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
    finally:
        conn.close()
    conn = sqlite3.connect(state.books_path(data_dir))
    try:
        rows += conn.execute("SELECT id, type, active, body FROM items ORDER BY id").fetchall()
        rows += conn.execute("SELECT entity, id, doc_number, body FROM docs").fetchall()
    finally:
        conn.close()
    return rows  # fmt: skip


def test_generation_is_deterministic(tmp_path: Path) -> None:
    for name in ("a", "b"):
        ensure_sandbox(tmp_path / name, size=500)
    assert dump(tmp_path / "a") == dump(tmp_path / "b")
    ensure_sandbox(tmp_path / "b", size=600)
    assert dump(tmp_path / "a") != dump(tmp_path / "b")


def test_info_and_counts(data_dir: Path) -> None:
    info = state.info(data_dir)
    assert info is not None
    assert (info["size"], info["seed"]) == (2000, 7)
    store, books, _ = read(data_dir)
    # Every catalog item is one item of its vendor, bases included.
    assert info["store_items"] == len(store)
    assert info["backoffice_items"] == len(books)
    for items in (store, books):
        assert 1900 <= sum(not item.is_base for item in items) <= 2100
    assert state.info(data_dir.parent / "nothing") is None


@pytest.mark.parametrize("size", [400, 2000])
def test_every_planted_situation_is_present(tmp_path: Path, data_dir: Path, size: int) -> None:
    if size != 2000:
        data_dir = tmp_path / "data"
        ensure_sandbox(data_dir, size=size)
    store_items, bo_items, lines = read(data_dir)
    store, bo = by_key(store_items, "store"), by_key(bo_items, "backoffice")
    pending: Counter[str] = Counter()
    for line in lines:
        pending[sku_key(line.sku, "store", "")] += int(line.quantity)
    seen: Counter[str] = Counter()
    for key in store.keys() & bo.keys():
        if len(store[key]) > 1 or len(bo[key]) > 1:
            seen["duplicate"] += 1
            continue
        s, b = store[key][0], bo[key][0]
        assert s.sku is not None and b.sku is not None
        if s.sku != b.sku:
            seen["case_or_space"] += 1
        if name_key(s.name) != name_key(b.name):
            same_bare = name_bare(s.name, s.sku) == name_bare(b.name, b.sku)
            seen["NS" if same_bare else "N"] += 1
        seen["unlinked variant"] += (s.parent_id is None) != (b.parent_id is None)
        seen["C"] += s.cost != b.cost
        seen["P"] += s.price != b.price
        assert s.quantity is not None and b.quantity is not None
        gap, waiting = b.quantity - s.quantity, pending[key]
        if b.quantity < 0:
            seen["QN"] += s.quantity == 0
        elif waiting:
            seen["QP" if gap == waiting else "in_orders_no_gap" if gap == 0 else "QO"] += 1
        elif gap:
            seen["Q"] += 1
    seen["store_only"] = len(store.keys() - bo.keys())
    seen["backoffice_only"] = len(bo.keys() - store.keys())
    scale = size / 2000
    # As the catalog draws them per 2,000 SKUs. A store variant has no name of its own (the
    # product's, with its option values), so a SKU appended only to it is not there; a
    # hostile name (one in HOSTILE_EVERY) is a name that differs.
    for code, per_2000 in {
        "Q": 60, "P": 40, "N": 15, "NS": 7, "C": 15, "QN": 15, "QP": 12, "QO": 5,
        "in_orders_no_gap": 5, "store_only": 15, "backoffice_only": 15, "duplicate": 4,
        "case_or_space": 10,
    }.items():  # fmt: skip
        expected = max(1, round(per_2000 * scale))
        assert expected * 0.5 <= seen[code] <= expected * 1.6 + 2, (code, seen[code], expected)

    # A variant the books never linked to its group (about 4 in 2,000).
    assert size < 2000 or seen["unlinked variant"] >= 1
    # Store rules: never a negative quantity, "product" or "product:variant" ids, bases of
    # 2-5 variants; the back office's bases are Group items, its ids numbers.
    assert all(item.quantity is None or item.quantity >= 0 for item in store_items)
    assert all(re.fullmatch(r"\d+(:\d+)?", item.id) for item in store_items)
    assert all(item.id.isdigit() for item in bo_items)
    assert any(item.quantity is not None and item.quantity < 0 for item in bo_items)
    for items in (store_items, bo_items):
        variants = Counter(item.parent_id for item in items if item.parent_id)
        bases = {item.id for item in items if item.is_base}
        assert set(variants) == bases and all(1 <= n <= 5 for n in variants.values())
    for item in store_items:
        if item.price is not None and item.cost is not None and not item.is_base:
            assert item.cost < item.price and item.price.as_tuple().exponent == -2


def test_variants_carry_options_and_their_products_sku(data_dir: Path) -> None:
    items = read(data_dir)[0]
    bases = {item.id: item for item in items if item.is_base}
    variant = next(item for item in items if item.parent_id)
    base = bases[variant.parent_id or ""]
    assert variant.sku is not None and base.sku is not None
    assert variant.sku.startswith(base.sku + "-")
    assert [name for name, _ in variant.options] == ["Color", "Size"]
    assert variant.name == f"{base.name} ({variant.options[0][1]}, {variant.options[1][1]})"
    assert base.quantity is None and isinstance(variant.price, Decimal)


def test_hostile_names_are_in_the_catalog(data_dir: Path) -> None:
    store, books, _ = read(data_dir)
    names = [item.name for item in store + books]
    assert any("\x1b[" in name for name in names)
    assert any("[bold]" in name for name in names)
    assert any("\u202e" in name for name in names)


def test_pending_orders_some_already_posted_in_the_books(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    ensure_sandbox(data_dir, size=2000)

    async def orders(c: Connectors) -> tuple[list[PendingLine], set[str]]:
        lines = await c.store.read_pending()
        return lines, await c.backoffice.posted_orders([line.order_id for line in lines])

    lines, posted = through(data_dir, orders)
    assert lines and all(line.quantity > 0 for line in lines)
    # Awaiting shipment in the store, already invoiced (or receipted) in the books.
    assert posted and posted < {line.order_id for line in lines}
    waiting = sorted({line.order_id for line in lines} - posted, key=int)
    outside.post_order(data_dir, waiting[0], "Invoice")
    _, now = through(data_dir, orders)
    assert now == posted | {waiting[0]}


def test_a_change_behind_our_back_is_read_with_a_new_version(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    ensure_sandbox(data_dir, size=300)

    async def items(c: Connectors) -> dict[tuple[Side, str], Item]:
        found: dict[tuple[Side, str], Item] = {("store", i.id): i for i in await _all(c, "store")}
        found.update({("backoffice", i.id): i for i in await _all(c, "backoffice")})
        return found

    before = through(data_dir, items)
    store = next(i for (side, _), i in before.items() if side == "store" and i.quantity)
    books = next(i for (side, _), i in before.items() if side == "backoffice" and i.price)
    outside.set_value(data_dir, "store", store.id, "quantity", 123)
    outside.set_value(data_dir, "backoffice", books.id, "price", "77.5")
    after = through(data_dir, items)
    assert after[("store", store.id)].quantity == 123
    assert after[("backoffice", books.id)].price == Decimal("77.5")
    assert after[("backoffice", books.id)].version != books.version  # a new SyncToken
    assert outside.value(data_dir, "backoffice", books.id, "price") == "77.5"


def test_the_pair_is_loopback_only_and_unserved_outside_its_servers(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    ensure_sandbox(data_dir, size=100)
    for connection in (SANDBOX_PAIR.store, SANDBOX_PAIR.backoffice):
        assert str(connection.settings["api_url"]).startswith("http://127.0.0.1:")
    with pair.serving(data_dir, SANDBOX_PAIR) as served:
        for connection in (served.store, served.backoffice):
            assert str(connection.settings["api_url"]).startswith("http://127.0.0.1:")
            assert connection.settings["api_url"] != SANDBOX_PAIR.store.settings["api_url"]
        assert str(served.backoffice.settings["token_url"]).startswith("http://127.0.0.1:")

    # Without its servers, the pair's placeholder origin answers nothing: a clear error.
    async def unserved() -> None:
        from tui_sync.connectors import _opened
        from tui_sync.connectors.http import new_client

        async with new_client() as client, _opened(data_dir, SANDBOX_PAIR, client) as c:
            [item async for page in c.store.read_items() for item in page]

    with pytest.raises(ConnectorError):
        asyncio.run(unserved())


def test_missing_or_corrupt_state_is_one_clear_error(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    ensure_sandbox(data_dir, size=100)
    books = state.books_path(data_dir)
    books.write_bytes(b"this is not a database" * 100)
    with pytest.raises(SandboxStateError) as raised:
        state.info(data_dir)
    message = str(raised.value)
    assert "\n" not in message and "--reset" in message and "quickbooks.db" in message
    with pytest.raises(SandboxStateError):
        ensure_sandbox(data_dir)  # never generated over
    assert books.read_bytes() == b"this is not a database" * 100
    assert ensure_sandbox(data_dir, reset=True)
    assert state.info(data_dir) is not None


def test_failed_generation_keeps_the_previous_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "data"
    ensure_sandbox(data_dir, size=200)
    before = dump(data_dir)

    def boom(*args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(seed, "quickbooks", boom)
    with pytest.raises(RuntimeError):
        ensure_sandbox(data_dir, size=300)
    assert dump(data_dir) == before
    assert sorted(p.name for p in data_dir.iterdir()) == ["sandbox"]
    assert catalog.MAX_SIZE == 1_000_000
