"""The built-in sandbox: seeded catalog, persisted remote state and the in-process connector."""

from __future__ import annotations

import re
import sqlite3
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from tui_sync.cache import name_bare, name_key, sku_key
from tui_sync.connectors.base import Connector, ConnectorError
from tui_sync.connectors.sandbox import SandboxConnector
from tui_sync.model import Change, Item, Side
from tui_sync.sandbox import catalog, remote


@pytest.fixture
def state(tmp_path: Path) -> Path:
    path = tmp_path / "sandbox.db"
    catalog.generate(path, 2000)
    return path


def read(path: Path, side: Side) -> list[Item]:
    connector = SandboxConnector(path, side)
    try:
        return list(connector.read_items())
    finally:
        connector.close()


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
    for line in connector.read_pending():
        pending[sku_key(line.sku, "store", "")] += line.quantity
    connector.close()

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
    connector = SandboxConnector(state, "backoffice")
    count = sum(1 for _ in connector.read_items(lambda done, total: calls.append((done, total))))
    connector.close()
    assert calls[-1] == (count, count)
    assert len(calls) >= count // 1000 + 1
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_pending_and_posted_orders(state: Path) -> None:
    store, bo = SandboxConnector(state, "store"), SandboxConnector(state, "backoffice")
    lines = list(store.read_pending())
    assert lines and all(line.quantity > 0 for line in lines)
    assert list(bo.read_pending()) == []
    ids = [line.order_id for line in lines]
    assert bo.posted_orders(ids) == set()
    remote.post_order(state, ids[0])
    assert bo.posted_orders([*ids, "no-such-order"]) == {ids[0]}
    assert ids[0] not in {line.order_id for line in store.read_pending()}
    store.close()
    bo.close()


def first_variant(path: Path, side: Side) -> Item:
    return next(item for item in read(path, side) if not item.is_base and (item.quantity or 0) > 0)


def test_write_done_conflict_failed(state: Path) -> None:
    item = first_variant(state, "store")
    assert item.sku is not None and item.quantity is not None and item.price is not None
    connector: Connector = SandboxConnector(state, "store")
    assert connector.kind == "sandbox" and connector.capabilities.batch_size == 50

    def change(field: str, before: object, after: object, item_id: str = item.id) -> Change:
        return Change(item.sku or "", "store", item_id, field, before, after, item.version)  # type: ignore[arg-type]

    results = connector.write(
        [
            change("quantity", item.quantity, item.quantity + 5),
            change("price", item.price, item.price + Decimal("1.50")),
            change("quantity", 12345, 1),
            change("quantity", item.quantity + 5, -3),
            change("quantity", 0, 1, item_id="999999:1"),
        ]
    )
    assert [r.result for r in results] == ["done", "done", "conflict", "failed", "failed"]
    assert results[0].version == str(int(item.version or 0) + 1)
    assert results[1].version == str(int(item.version or 0) + 2)
    assert results[2].reason == f"quantity is {item.quantity + 5} now, was 12345 when read"
    assert results[3].reason == "the store cannot hold a negative quantity"
    assert results[4].reason == "item no longer exists"
    connector.close()

    # Persisted: a new instance (a later refresh) sees the written values and version.
    again = next(i for i in read(state, "store") if i.id == item.id)
    assert again.quantity == item.quantity + 5 and again.price == item.price + Decimal("1.50")
    assert again.version == results[1].version


def test_changed_behind_our_back_is_a_conflict(state: Path) -> None:
    item = first_variant(state, "backoffice")
    assert item.quantity is not None
    remote.set_value(state, "backoffice", item.id, "quantity", item.quantity + 2)
    connector = SandboxConnector(state, "backoffice")
    assert not connector.capabilities.multi_field_write
    before = Change(item.sku or "", "backoffice", item.id, "quantity", item.quantity, -4)
    (result,) = connector.write([before])
    assert result.result == "conflict"
    fresh = Change(item.sku or "", "backoffice", item.id, "quantity", item.quantity + 2, -4)
    (result,) = connector.write([fresh])  # the back office may go negative
    assert result.result == "done"
    connector.close()
    assert next(i for i in read(state, "backoffice") if i.id == item.id).quantity == -4
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
