"""The one ranking of the picker and `--suggest`: the look-alike comes first, whether every
unmatched item is scored or only the ones SQL pre-filters (a large unmatched set)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tui_sync import likeness
from tui_sync.cache import Cache
from tui_sync.likeness import candidates_for, edit_distance, unmatched_item
from tui_sync.model import Item
from tui_sync.reconcile import Policy, reconcile

PAIR = "p"


def item(id_: str, sku: str, name: str, price: str, brand: str = "Acme") -> Item:
    return Item(
        id=id_, sku=sku, name=name, brand=brand, quantity=1, price=Decimal(price), cost=None
    )


def test_edit_distance() -> None:
    assert edit_distance("HOOD-0054", "HOOD-OO54") == 2
    assert edit_distance("", "ABC") == 3
    assert edit_distance("KITTEN", "SITTING") == 3


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    cache = Cache.open(tmp_path)
    # Store-only items; the back office has many unmatched items, one of them the look-alike.
    cache.replace_items(
        PAIR,
        "store",
        [
            item("s1", "MUG-0042", "Stoneware Mug Blue", "12.50"),
            item("s2", "ZZ-1", "Other", "1.00"),
        ],
    )
    backs = [item(f"b{i}", f"BOX-{i:04d}", f"Cardboard Box {i}", "3.00") for i in range(60)]
    backs.append(item("look", "MUG-042", "Stoneware Mug, Blue", "12.50"))
    backs.append(item("far", "XYZ-9", "Stoneware Mug Blue", "99.00", brand="Other"))
    cache.replace_items(PAIR, "backoffice", backs)
    reconcile(cache, PAIR, Policy())
    return cache


@pytest.mark.parametrize("exhaustive_up_to", [2000, 5], ids=["every-item", "pre-filtered"])
def test_the_look_alike_ranks_first(
    cache: Cache, monkeypatch: pytest.MonkeyPatch, exhaustive_up_to: int
) -> None:
    monkeypatch.setattr(likeness, "EXHAUSTIVE_UP_TO", exhaustive_up_to)
    monkeypatch.setattr(likeness, "NEIGHBOURS", 3)
    mug = unmatched_item(cache, PAIR, "store", "s1")
    assert mug is not None
    found = candidates_for(cache, PAIR, mug, limit=100)
    # 62 unmatched back-office items: all scored, or only the pre-filtered few
    assert (len(found) == 62) == (exhaustive_up_to > 62)
    (best, why), (second, _) = found[0], found[1]
    assert best.sku == "MUG-042" and why.score > 80
    assert "SKU 1 edit apart" in why.why and "same price 12.50" in why.why
    assert second.sku == "XYZ-9"  # the same name, found by its word in the pre-filter
