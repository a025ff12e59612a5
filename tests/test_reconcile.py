"""Every cell code and every status of DESIGN.md section 4, from items through the real cache."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui_sync.cache import Cache
from tui_sync.model import Capabilities, Item, PendingLine, Row, Status
from tui_sync.reconcile import Policy, reasons, reconcile, rescore
from tui_sync.views import VIEW_BY_KEY, ViewRows, iter_rows, view_counts

PAIR = "p"


def item(id_: str, sku: str | None, **kw: object) -> Item:
    values: dict[str, object] = {
        "name": "Canvas Tote",
        "brand": "Acme",
        "quantity": 10,
        "price": Decimal("19.99"),
        "cost": Decimal("8.10"),
    }
    values.update(kw)
    return Item(id=id_, sku=sku, **values)  # type: ignore[arg-type]


def run(
    tmp_path: Path,
    store: list[Item],
    backoffice: list[Item],
    pending: list[PendingLine] = (),  # type: ignore[assignment]
    policy: Policy | None = None,
) -> dict[str, Row]:
    cache = Cache.open(tmp_path)
    cache.replace_items(PAIR, "store", store)
    cache.replace_items(PAIR, "backoffice", backoffice)
    cache.replace_pending(PAIR, pending)
    reconcile(cache, PAIR, policy or Policy())
    return {row.key: row for row in iter_rows(cache, PAIR)}


def one(tmp_path: Path, store: Item, backoffice: Item, **kw: object) -> Row:
    rows = run(tmp_path, [store], [backoffice], **kw)  # type: ignore[arg-type]
    assert len(rows) == 1
    return next(iter(rows.values()))


def n_cells(row: Row) -> set[str]:
    return {code for code, cell in row.cells.items() if cell == "N"}


def test_identical_items_are_in_sync(tmp_path: Path) -> None:
    row = one(tmp_path, item("1", "TOTE-1"), item("a", "TOTE-1"))
    assert row.status is Status.IN_SYNC
    assert n_cells(row) == set()
    assert reasons(row) == []


def test_sku_matching_tolerates_case_and_surrounding_space(tmp_path: Path) -> None:
    row = one(tmp_path, item("1", " tote-1 "), item("a", "TOTE-1"))
    assert row.status is Status.IN_SYNC
    assert row.store is not None and row.backoffice is not None


def test_n_when_names_differ(tmp_path: Path) -> None:
    row = one(tmp_path, item("1", "T1", name="Canvas Tote"), item("a", "T1", name="Linen Tote"))
    assert n_cells(row) == {"N"}
    assert row.status is Status.IN_SYNC  # names are informative, not a sync matter
    assert "name 'Canvas Tote' in store, 'Linen Tote' in backoffice" in reasons(row)


def test_names_compare_after_folding_white_space(tmp_path: Path) -> None:
    row = one(tmp_path, item("1", "T1", name=" Canvas   Tote"), item("a", "T1", name="Canvas Tote"))
    assert n_cells(row) == set()


@pytest.mark.parametrize("suffix", [" - T-100", " (T-100)", " T-100", " - t-100"])
def test_ns_not_n_when_only_the_sku_was_appended(tmp_path: Path, suffix: str) -> None:
    row = one(
        tmp_path,
        item("1", "T-100", name="Canvas Tote" + suffix),
        item("a", "T-100", name="Canvas Tote"),
    )
    assert n_cells(row) == {"NS"}
    assert row.cells["N"] == "S"


def test_iv_when_variant_options_differ(tmp_path: Path) -> None:
    row = one(
        tmp_path,
        item("1", "T1", options=(("Color", "Red"), ("Size", "M"))),
        item("a", "T1", options=(("Color", "Blue"), ("Size", "M"))),
    )
    assert n_cells(row) == {"IV"}


def test_iv_on_a_base_whose_variant_count_differs(tmp_path: Path) -> None:
    rows = run(
        tmp_path,
        [
            item("p", "TEE", is_base=True, quantity=None, price=None, cost=None),
            item("p:1", "TEE-S", parent_id="p", options=(("Size", "S"),)),
            item("p:2", "TEE-M", parent_id="p", options=(("Size", "M"),)),
        ],
        [
            item("b", "TEE", is_base=True, quantity=None, price=None, cost=None),
            item("b1", "TEE-S", parent_id="b", options=(("Size", "S"),)),
        ],
    )
    assert rows["TEE"].status is Status.BASE
    assert rows["TEE"].cells["IV"] == "N"
    assert rows["TEE"].cells["Q"] == "-"
    assert rows["TEE-S"].status is Status.IN_SYNC
    assert rows["TEE-M"].status is Status.STORE_ONLY


def test_b_when_brands_differ(tmp_path: Path) -> None:
    row = one(tmp_path, item("1", "T1", brand="Acme"), item("a", "T1", brand="Zenith"))
    assert n_cells(row) == {"B"}


def test_q_when_quantities_differ(tmp_path: Path) -> None:
    row = one(tmp_path, item("1", "T1", quantity=4), item("a", "T1", quantity=7))
    assert n_cells(row) == {"Q"}
    assert row.status is Status.OUT_OF_SYNC
    assert "quantity 4 in store, 7 in backoffice" in reasons(row)


def test_qp_when_the_gap_equals_the_pending_quantity(tmp_path: Path) -> None:
    row = one(
        tmp_path,
        item("1", "T1", quantity=4),
        item("a", "T1", quantity=7),
        pending=[PendingLine("1001", "t1", 2), PendingLine("1002", "T1 ", 1)],
    )
    assert n_cells(row) == {"QP"}
    assert row.status is Status.IN_ORDERS
    assert row.pending_quantity == 3


def test_q_when_pending_does_not_explain_the_gap(tmp_path: Path) -> None:
    row = one(
        tmp_path,
        item("1", "T1", quantity=4),
        item("a", "T1", quantity=7),
        pending=[PendingLine("1001", "T1", 2)],
    )
    assert n_cells(row) == {"Q"}
    assert row.status is Status.IN_ORDERS


def test_qn_when_the_backoffice_quantity_is_negative(tmp_path: Path) -> None:
    row = one(tmp_path, item("1", "T1", quantity=0), item("a", "T1", quantity=-2))
    assert n_cells(row) == {"QN"}
    assert row.cells["Q"] == "S" and row.cells["QP"] == "S"
    assert row.status is Status.OUT_OF_SYNC


def test_p_when_prices_differ_beyond_the_tolerance(tmp_path: Path) -> None:
    row = one(
        tmp_path, item("1", "T1", price=Decimal("19.99")), item("a", "T1", price=Decimal("21"))
    )
    assert n_cells(row) == {"P"}
    assert row.status is Status.OUT_OF_SYNC


def test_a_price_gap_within_the_tolerance_is_s(tmp_path: Path) -> None:
    row = one(
        tmp_path, item("1", "T1", price=Decimal("19.99")), item("a", "T1", price=Decimal("19.995"))
    )
    assert row.cells["P"] == "S"
    assert row.status is Status.IN_SYNC


def test_tolerance_comes_from_the_policy(tmp_path: Path) -> None:
    row = one(
        tmp_path,
        item("1", "T1", price=Decimal("19.99")),
        item("a", "T1", price=Decimal("20.00")),
        policy=Policy(price_tolerance=Decimal("0")),
    )
    assert row.cells["P"] == "N"


def test_c_when_costs_differ(tmp_path: Path) -> None:
    row = one(tmp_path, item("1", "T1", cost=Decimal("8.10")), item("a", "T1", cost=Decimal("8.5")))
    assert n_cells(row) == {"C"}
    assert row.status is Status.OUT_OF_SYNC


def test_c_does_not_apply_when_a_side_carries_no_cost(tmp_path: Path) -> None:
    row = one(tmp_path, item("1", "T1", cost=None), item("a", "T1", cost=Decimal("8.5")))
    assert row.cells["C"] == "-"
    policy = Policy(store=Capabilities(has_cost=False, has_brand=False))
    row = one(tmp_path, item("1", "T1", brand="X"), item("a", "T1"), policy=policy)
    assert row.cells["C"] == "-" and row.cells["B"] == "-"


def test_unmatched_rows(tmp_path: Path) -> None:
    rows = run(tmp_path, [item("1", "ONLY-S")], [item("a", "ONLY-B")])
    assert rows["ONLY-S"].status is Status.STORE_ONLY
    assert rows["ONLY-B"].status is Status.BACKOFFICE_ONLY
    assert set(rows["ONLY-S"].cells.values()) == {"-"}


def test_items_without_sku_never_match_each_other(tmp_path: Path) -> None:
    rows = run(tmp_path, [item("1", None)], [item("a", "  ")])
    assert {r.status for r in rows.values()} == {Status.STORE_ONLY, Status.BACKOFFICE_ONLY}


def test_duplicate_sku_shows_every_item(tmp_path: Path) -> None:
    rows = run(tmp_path, [item("1", "D1"), item("2", "d1 ")], [item("a", "D1", quantity=3)])
    assert [r.status for r in rows.values()] == [Status.DUPLICATE_SKU] * 2
    assert {r.store.id for r in rows.values() if r.store} == {"1", "2"}


def test_manual_mapping_matches_different_skus(tmp_path: Path) -> None:
    cache = Cache.open(tmp_path)
    cache.set_mapping(PAIR, "shop-tote", "BOOK-TOTE")
    cache.replace_items(PAIR, "store", [item("1", "SHOP-TOTE")])
    cache.replace_items(PAIR, "backoffice", [item("a", "book-tote", quantity=3)])
    reconcile(cache, PAIR, Policy())
    (row,) = iter_rows(cache, PAIR)
    assert row.cells["Q"] == "N"
    assert row.store is not None and row.backoffice is not None


def test_status_precedence(tmp_path: Path) -> None:
    # A duplicate in orders with a quantity gap is duplicate_sku; an in-orders gap is in_orders.
    rows = run(
        tmp_path,
        [item("1", "DUP", quantity=1), item("2", "DUP"), item("3", "ORD", quantity=1)],
        [item("a", "DUP"), item("b", "ORD")],
        pending=[PendingLine("9", "DUP", 1), PendingLine("9", "ORD", 1)],
    )
    assert rows["DUP"].status is Status.DUPLICATE_SKU
    assert rows["ORD"].status is Status.IN_ORDERS


def test_views_and_counts(tmp_path: Path) -> None:
    run(
        tmp_path,
        [item("1", "A", quantity=1), item("2", "B", price=Decimal("1")), item("3", "C")],
        [item("a", "A"), item("b", "B"), item("c", "C"), item("d", "D")],
    )
    cache = Cache.open(tmp_path)
    counts = view_counts(cache, PAIR)
    assert counts == {
        "all": 4,
        "out_of_sync": 2,
        "price": 1,
        "quantity": 1,
        "in_orders": 0,
        "base": 0,
        "unmatched": 1,
    }
    out = ViewRows(cache, PAIR, VIEW_BY_KEY["out_of_sync"])
    assert [r.sku for r in out.fetch(0, 10)] == ["A", "B"]
    filtered = ViewRows(cache, PAIR, VIEW_BY_KEY["all"], text="d")
    assert [r.sku for r in filtered.fetch(0, 10)] == ["D"]


def test_rescore_after_a_value_changes(tmp_path: Path) -> None:
    run(tmp_path, [item("1", "A", quantity=1)], [item("a", "A", quantity=5)])
    cache = Cache.open(tmp_path)
    cache.set_item_value(PAIR, "store", "1", "quantity", 5, "v2")
    rescore(cache, PAIR, Policy(), ["A"])
    (row,) = iter_rows(cache, PAIR)
    assert row.cells["Q"] == "S" and row.status is Status.IN_SYNC
    assert row.store is not None and row.store.version == "v2"


@settings(max_examples=60, deadline=None)
@given(
    store_q=st.integers(-5, 20),
    back_q=st.integers(-5, 20),
    pending=st.integers(0, 6),
)
def test_at_most_one_quantity_code_is_n(
    tmp_path_factory: pytest.TempPathFactory, store_q: int, back_q: int, pending: int
) -> None:
    tmp = tmp_path_factory.mktemp("q")
    lines = [PendingLine("1", "A", pending)] if pending else []
    row = one(tmp, item("1", "A", quantity=store_q), item("a", "A", quantity=back_q), pending=lines)
    quantity_codes = [c for c in ("Q", "QP", "QN") if row.cells[c] == "N"]
    assert len(quantity_codes) <= 1
    assert (row.cells["QN"] == "N") == (back_q < 0)
    if back_q >= 0 and store_q != back_q:
        assert quantity_codes == (["QP"] if pending and back_q - store_q == pending else ["Q"])
