"""The built-in sandbox: seeded catalog, persisted remote state and the in-process connector."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from tui_sync.cache import name_bare, name_key, sku_key
from tui_sync.connectors.base import Connector, ConnectorError, Progress
from tui_sync.connectors.sandbox import SandboxConnector
from tui_sync.model import Batch, Change, Item, Side
from tui_sync.sandbox import catalog, remote


@pytest.fixture
def state(tmp_path: Path) -> Path:
    path = tmp_path / "sandbox.db"
    catalog.generate(path, 2000)
    return path


async def _read(path: Path, side: Side, progress: Progress | None = None) -> list[Item]:
    connector = SandboxConnector(path, side)
    try:
        return [item async for page in connector.read_items(None, progress) for item in page]
    finally:
        await connector.aclose()


def read(path: Path, side: Side, progress: Progress | None = None) -> list[Item]:
    return asyncio.run(_read(path, side, progress))


def by_key(items: list[Item], side: Side) -> dict[str, list[Item]]:
    keyed: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        if not item.is_base:
            keyed[sku_key(item.sku, side, item.id)].append(item)
    return keyed


def dump(path: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        items = conn.execute("SELECT * FROM items ORDER BY rowid").fetchall()
        return items + conn.execute("SELECT * FROM orders ORDER BY rowid").fetchall()
    finally:
        conn.close()


def test_generation_is_deterministic_per_seed(tmp_path: Path) -> None:
    for name, seed in (("a.db", 7), ("b.db", 7), ("c.db", 8)):
        catalog.generate(tmp_path / name, 500, seed=seed)
    assert dump(tmp_path / "a.db") == dump(tmp_path / "b.db")
    assert dump(tmp_path / "a.db") != dump(tmp_path / "c.db")


def test_info_and_counts(state: Path) -> None:
    info = remote.info(state)
    assert info is not None
    assert (info["size"], info["seed"]) == (2000, 7)
    for side in ("store", "backoffice"):
        items = read(state, side)
        assert info[f"{side}_items"] == len(items)
        sellable = sum(not item.is_base for item in items)
        assert 1900 <= sellable <= 2100
    assert remote.info(state.with_name("nothing.db")) is None


@pytest.mark.parametrize("size", [400, 2000])
def test_every_planted_situation_is_present(tmp_path: Path, size: int) -> None:
    path = tmp_path / "sandbox.db"
    catalog.generate(path, size)
    store_items, bo_items = read(path, "store"), read(path, "backoffice")
    store, bo = by_key(store_items, "store"), by_key(bo_items, "backoffice")
    pending: Counter[str] = Counter()
    connector = SandboxConnector(path, "store")
    for line in asyncio.run(connector.read_pending()):
        pending[sku_key(line.sku, "store", "")] += int(line.quantity)
    asyncio.run(connector.aclose())

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
        seen["IV"] += s.options != b.options or (s.parent_id is None) != (b.parent_id is None)
        seen["B"] += s.brand != b.brand
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
    for code, per_2000 in {
        "Q": 60, "P": 40, "N": 15, "NS": 15, "IV": 15, "B": 15, "C": 15, "QN": 15, "QP": 12,
        "QO": 5, "in_orders_no_gap": 5, "store_only": 15, "backoffice_only": 15,
        "duplicate": 4, "case_or_space": 10,
    }.items():  # fmt: skip
        expected = max(1, round(per_2000 * scale))
        assert expected * 0.5 <= seen[code] <= expected * 1.6 + 2, (code, seen[code], expected)

    # Store-side rules: never a negative quantity, "product:variant" ids, bases group 2-5 variants.
    assert all(item.quantity is None or item.quantity >= 0 for item in store_items)
    assert all(re.fullmatch(r"\d+(:\d+)?", item.id) for item in store_items)
    assert all(item.id.isdigit() for item in bo_items)
    variants = Counter(item.parent_id for item in store_items if item.parent_id)
    bases = {item.id for item in store_items if item.is_base}
    assert set(variants) == bases and all(2 <= n <= 5 for n in variants.values())
    for item in store_items:
        if item.price is not None and item.cost is not None:
            assert item.cost < item.price and item.price.as_tuple().exponent == -2


def test_variant_skus_and_options(state: Path) -> None:
    items = read(state, "store")
    bases = {item.id: item for item in items if item.is_base}
    variant = next(item for item in items if item.parent_id)
    base = bases[variant.parent_id or ""]
    assert variant.sku is not None and base.sku is not None
    assert variant.sku.startswith(base.sku + "-")
    assert [name for name, _ in variant.options] == ["Color", "Size"]
    assert base.quantity is None and isinstance(variant.price, Decimal)


def test_progress_reaches_total(state: Path) -> None:
    calls: list[tuple[int, int | None]] = []
    count = len(read(state, "backoffice", lambda done, total: calls.append((done, total))))
    assert calls[-1] == (count, count)
    assert len(calls) >= count // 1000 + 1
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


async def test_pending_and_posted_orders(state: Path) -> None:
    store, bo = SandboxConnector(state, "store"), SandboxConnector(state, "backoffice")
    lines = await store.read_pending()
    assert lines and all(line.quantity > 0 for line in lines)
    assert await bo.read_pending() == []
    ids = [line.order_id for line in lines]
    assert await bo.posted_orders(ids) == set()
    remote.post_order(state, ids[0])
    assert await bo.posted_orders([*ids, "no-such-order"]) == {ids[0]}
    assert ids[0] not in {line.order_id for line in await store.read_pending()}
    await store.aclose()
    await bo.aclose()


async def first_variant(path: Path, side: Side) -> Item:
    items = await _read(path, side)
    return next(item for item in items if not item.is_base and (item.quantity or 0) > 0)


async def test_write_done_conflict_rejected(state: Path) -> None:
    item = await first_variant(state, "store")
    assert item.sku is not None and item.quantity is not None and item.price is not None
    connector: Connector = SandboxConnector(state, "store")
    assert connector.kind == "sandbox" and connector.capabilities.batch_size == 50
    sku = item.sku

    def change(n: int, field: str, before: object, after: object, item_id: str = item.id) -> Change:
        return Change(sku, "store", item_id, field, before, after, item.version, id=n)  # type: ignore[arg-type]

    batch = Batch(
        "k-1",
        (
            change(1, "quantity", item.quantity, item.quantity + 5),
            change(2, "price", item.price, item.price + Decimal("1.50")),
            change(3, "quantity", 12345, 1),
            change(4, "quantity", item.quantity + 5, -3),
            change(5, "quantity", 0, 1, item_id="999999:1"),
            change(6, "price", item.price + Decimal("1.50"), Decimal("12.345")),
        ),
    )
    results = {r.change_id: r for r in await connector.write(batch)}
    assert [results[n].outcome for n in range(1, 7)] == [
        "done",
        "done",
        "conflict",
        "rejected",
        "rejected",
        "rejected",
    ]
    assert results[1].version == str(int(item.version or 0) + 1)
    assert results[2].version == str(int(item.version or 0) + 2)
    assert results[2].value == item.price + Decimal("1.50")
    assert results[3].reason == f"quantity is {item.quantity + 5} now, was 12345 when read"
    assert results[3].value == item.quantity + 5
    assert results[4].reason == f"{sku} quantity: the store cannot hold a negative quantity"
    assert results[5].reason == f"{sku}: item no longer exists"
    # The store keeps 2 decimals: it says so rather than rounding behind our back.
    assert results[6].reason == f"{sku} price: 12.345 has more than 2 decimals"
    # The same idempotency key again applies nothing twice.
    again = {r.change_id: r for r in await connector.write(batch)}
    assert again[1].outcome == "done" and again[1].value == item.quantity + 5
    assert len([w for w in remote.applied_writes(state) if w[0] == "k-1"]) == 2
    await connector.aclose()

    # Persisted: a new instance (a later refresh) sees the written values and version.
    fresh = next(i for i in await _read(state, "store") if i.id == item.id)
    assert fresh.quantity == item.quantity + 5 and fresh.price == item.price + Decimal("1.50")
    assert fresh.version == results[2].version


async def test_changed_behind_our_back_is_a_conflict(state: Path) -> None:
    item = await first_variant(state, "backoffice")
    assert item.quantity is not None
    remote.set_value(state, "backoffice", item.id, "quantity", item.quantity + 2)
    connector = SandboxConnector(state, "backoffice")
    assert not connector.capabilities.multi_field_write
    before = Change(item.sku or "", "backoffice", item.id, "quantity", item.quantity, -4, id=1)
    (result,) = await connector.write(Batch("a", (before,)))
    assert result.outcome == "conflict"
    fresh = Change(item.sku or "", "backoffice", item.id, "quantity", item.quantity + 2, -4, id=1)
    (result,) = await connector.write(Batch("b", (fresh,)))  # the back office may go negative
    assert result.outcome == "done"
    await connector.aclose()
    assert next(i for i in await _read(state, "backoffice") if i.id == item.id).quantity == -4
    with pytest.raises(LookupError):
        remote.set_value(state, "backoffice", "no-such-id", "price", Decimal("1"))


def test_missing_or_corrupt_state_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match=r"sandbox state not found; run `tui-sync demo"):
        SandboxConnector(tmp_path / "sandbox.db", "store")
    assert not (tmp_path / "sandbox.db").exists()
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ConnectorError) as raised:
        SandboxConnector(bad, "store")
    assert "\n" not in str(raised.value) and "demo --reset" in str(raised.value)


def test_failed_generation_keeps_the_previous_state(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = dump(state)

    def boom(self: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(catalog._Generator, "run", boom)
    with pytest.raises(RuntimeError):
        catalog.generate(state, 100, seed=1)
    assert dump(state) == before
    assert sorted(p.name for p in state.parent.iterdir()) == ["sandbox.db"]
