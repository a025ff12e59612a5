"""Mappings re-pair their rows in place: the rows table after a map or an unmap is exactly what a
full reconcile of the same items makes (positions, keys, cells, statuses), and the rule refuses
what would not be one unmatched store item joined to one unmatched back-office item."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_sync.cache import Cache
from tui_sync.mapping import MappingRefused, check_map, map_skus, repair, unmap_sku
from tui_sync.model import Item, PendingLine
from tui_sync.reconcile import Policy, reconcile
from tui_sync.views import VIEW_BY_KEY, ViewRows, row_count, view_counts

PAIR = "p"
POLICY = Policy()


def item(id_: str, sku: str, quantity: int = 5, price: str = "9.99", name: str = "") -> Item:
    return Item(
        id=id_,
        sku=sku,
        name=name or f"Item {sku}",
        brand="Acme",
        quantity=quantity,
        price=Decimal(price),
        cost=None,
    )


def rows(cache: Cache) -> list[tuple[object, ...]]:
    return cache.conn.execute("SELECT * FROM rows WHERE pair = ? ORDER BY pos", (PAIR,)).fetchall()


def full(cache: Cache) -> list[tuple[object, ...]]:
    """What a full reconcile makes of the same items and mappings."""
    with cache.transaction():
        kept = rows(cache)
        reconcile(cache, PAIR, POLICY)
        wanted = rows(cache)
        cache.conn.execute("DELETE FROM rows WHERE pair = ?", (PAIR,))
        if kept:
            marks = ", ".join("?" * len(kept[0]))
            cache.conn.executemany(f"INSERT INTO rows VALUES ({marks})", kept)
    return wanted


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    cache = Cache.open(tmp_path)
    store = [item(f"s{i}", f"SKU-{i:02d}", quantity=i) for i in range(0, 30, 2)]
    back = [item(f"b{i}", f"SKU-{i:02d}", quantity=i + 1) for i in range(0, 30, 3)]
    store += [item("s-old", "OLD-7", quantity=3, price="4.50"), item("s-dup", "SKU-04")]
    back += [item("b-new", "NEW-7", quantity=8, price="4.50"), item("b-z", "ZZZ-1")]
    cache.replace_items(PAIR, "store", store)
    cache.replace_items(PAIR, "backoffice", back)
    cache.replace_pending(PAIR, [PendingLine("o1", "OLD-7", 2, "pending")])
    reconcile(cache, PAIR, POLICY)
    return cache


def test_map_then_unmap_leaves_rows_as_a_full_reconcile(cache: Cache) -> None:
    before = rows(cache)
    counts = view_counts(cache, PAIR)
    key = map_skus(cache, PAIR, POLICY, "old-7", " NEW-7 ")
    assert key == "NEW-7"
    after = rows(cache)
    assert after == full(cache)
    assert len(after) == len(before) - 1 and row_count(cache.conn, PAIR) == len(after)
    merged = cache.conn.execute(
        "SELECT sku, status, sides, pending FROM rows WHERE pair = ? AND key = 'NEW-7'", (PAIR,)
    ).fetchone()
    assert merged == ("OLD-7", "in_orders", 3, 2)  # the store's SKU; its pending orders
    now = view_counts(cache, PAIR)
    assert now["unmatched"] == counts["unmatched"] - 2
    assert len(ViewRows(cache, PAIR)) == len(after)
    assert len(ViewRows(cache, PAIR, VIEW_BY_KEY["unmatched"])) == now["unmatched"]
    assert unmap_sku(cache, PAIR, POLICY, "OLD-7") == "NEW-7"
    assert rows(cache) == full(cache) == before


def test_the_rule_refuses_what_is_not_two_unmatched_items(cache: Cache) -> None:
    def why(store: str, back: str) -> str:
        reason = check_map(cache, PAIR, store, back)
        assert reason is not None
        return reason

    assert check_map(cache, PAIR, "OLD-7", "NEW-7") is None
    assert why("NOPE", "NEW-7").startswith("unknown store SKU 'NOPE'")
    assert why("OLD-7", "NOPE").startswith("unknown back office SKU 'NOPE'")
    assert "duplicate" in why("SKU-04", "NEW-7")  # two store items have SKU-04
    assert "already matches" in why("SKU-00", "NEW-7")
    assert "already matches" in why("OLD-7", "SKU-00")
    map_skus(cache, PAIR, POLICY, "OLD-7", "NEW-7")
    assert why("OLD-7", "ZZZ-1").startswith("already mapped")
    cache.conn.execute("INSERT INTO mappings VALUES (?, 'GONE-1', 'ZZZ-1')", (PAIR,))
    assert why("SKU-02", "ZZZ-1").startswith("would create a duplicate")
    before = rows(cache)
    with pytest.raises(MappingRefused):
        map_skus(cache, PAIR, POLICY, "SKU-02", "NEW-7")
    with pytest.raises(MappingRefused, match="not mapped"):
        unmap_sku(cache, PAIR, POLICY, "SKU-02")
    assert rows(cache) == before


SKUS = st.sampled_from(["A", "A-1", "AB", "B", "B-2", "C", "D", "DD", "E"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    store=st.lists(SKUS, max_size=8),
    back=st.lists(SKUS, max_size=8),
    maps=st.lists(st.tuples(SKUS, SKUS), max_size=3),
)
def test_any_repair_equals_a_full_reconcile(
    tmp_path_factory: pytest.TempPathFactory,
    store: list[str],
    back: list[str],
    maps: list[tuple[str, str]],
) -> None:
    """Duplicates, mappings to absent items, several keys at once: whatever the mappings do,
    repairing their keys gives the full reconcile's rows."""
    cache = Cache.open(tmp_path_factory.mktemp("c"))
    cache.replace_items(PAIR, "store", [item(f"s{i}", s) for i, s in enumerate(store)])
    cache.replace_items(PAIR, "backoffice", [item(f"b{i}", s) for i, s in enumerate(back)])
    reconcile(cache, PAIR, POLICY)
    keys: set[str] = set()
    for s, b in maps:
        old = cache.mappings(PAIR).get(s, s)
        cache.set_mapping(PAIR, s, b)
        keys |= {s, old, b}
    repair(cache, PAIR, POLICY, keys)
    assert rows(cache) == full(cache)
    cache.close()
