"""Plan rules of DESIGN.md section 5 and the journal, on rows built from real reconcile output."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from tui_sync import journal
from tui_sync.cache import Cache
from tui_sync.config import SANDBOX_PAIR
from tui_sync.connectors.base import group_batches
from tui_sync.model import Capabilities, Change, Item, PendingLine, Row
from tui_sync.reconcile import Policy, reconcile
from tui_sync.sync import parse_fields, plan
from tui_sync.views import iter_rows

STORE = Capabilities(negative_quantity=False)


def rows(
    tmp_path: Path, store: list[Item], back: list[Item], pending: list[PendingLine]
) -> dict[str, Row]:
    cache = Cache.open(tmp_path)
    cache.replace_items("sandbox", "store", store)
    cache.replace_items("sandbox", "backoffice", back)
    cache.replace_pending("sandbox", pending)
    reconcile(cache, "sandbox", Policy())
    return {r.key: r for r in iter_rows(cache, "sandbox")}


def item(id_: str, sku: str, quantity: int = 5, price: str = "10.00", **kw: object) -> Item:
    return Item(id_, sku, "Mug", quantity=quantity, price=Decimal(price), **kw)  # type: ignore[arg-type]


def test_plan_writes_differences_and_refuses_with_reasons(tmp_path: Path) -> None:
    found = rows(
        tmp_path,
        [
            item("1", "Q", quantity=1),
            item("2", "NEG", quantity=0),
            item("3", "ORD", quantity=1, price="9.00"),
            item("4", "SAME"),
            item("5", "ONLY"),
            item("6", "BASE", is_base=True),
            item("7", "DUP"),
            item("8", "DUP"),
        ],
        [
            item("a", "Q", quantity=4),
            item("b", "NEG", quantity=-3),
            item("c", "ORD", quantity=4, price="12.00"),
            item("d", "SAME"),
            item("f", "BASE", is_base=True),
            item("g", "DUP"),
        ],
        [PendingLine("100", "ORD", 3)],
    )
    the_plan = plan(SANDBOX_PAIR, found.values(), "store", ("quantity", "price"), STORE)
    changes = {(c.sku, c.field): (c.before, c.after) for c in the_plan.changes}
    assert changes == {
        ("Q", "quantity"): (1, 4),
        ("ORD", "price"): (Decimal("9.00"), Decimal("12.00")),
    }
    refused = {(r.sku, r.field): r.reason for r in the_plan.refusals}
    assert "in orders" in refused[("ORD", "quantity")]
    assert "negative quantity -3" in refused[("NEG", "quantity")]
    assert "unmatched" in refused[("ONLY", None)]
    assert "base" in refused[("BASE", None)]
    assert "duplicate" in refused[("DUP", None)]
    assert the_plan.unchanged == 1  # SAME


def test_a_target_that_cannot_write_a_field_refuses_it(tmp_path: Path) -> None:
    found = rows(
        tmp_path, [item("1", "A", cost=Decimal("1"))], [item("a", "A", cost=Decimal("2"))], []
    )
    caps = Capabilities(writable=frozenset({"quantity", "price"}))
    the_plan = plan(SANDBOX_PAIR, found.values(), "store", ("cost",), caps)
    assert the_plan.is_empty
    assert the_plan.refusals[0].reason == "the store cannot write cost"


def test_fields_both_means_quantity_and_price() -> None:
    assert parse_fields("both") == ("quantity", "price")
    assert parse_fields("cost, quantity") == ("quantity", "cost")


def test_one_field_per_call_never_batches_two_fields_of_an_item() -> None:
    changes = [
        Change("A", "backoffice", "1", "quantity", 1, 2),
        Change("A", "backoffice", "1", "price", Decimal(1), Decimal(2)),
        Change("B", "backoffice", "2", "quantity", 1, 2),
    ]
    one_field = Capabilities(multi_field_write=False, batch_size=30)
    batches = group_batches(changes, one_field)
    assert [[c.item_id for c in b] for b in batches] == [["1", "2"], ["1"]]
    assert len(group_batches(changes, Capabilities(batch_size=2))) == 2


def test_journal_records_before_sending_and_settles(tmp_path: Path) -> None:
    cache = Cache.open(tmp_path)
    run_id = journal.start_run(cache, "sandbox", "sync", "store", "quantity")
    change = Change("A", "store", "1", "quantity", 1, 2, id=1)
    journal.journal_changes(cache, run_id, [change], f"{run_id}-1")
    (run,) = journal.runs(cache, run_id=run_id)
    assert run.state == "running" and run.changes[0].result == "unknown"
    journal.settle(cache, run_id, 1, "done", None)
    assert journal.finish_run(cache, run_id) == "done"
    (run,) = journal.runs(cache)
    assert run.as_json()["changes"] == [
        {
            "sku": "A",
            "side": "store",
            "field": "quantity",
            "before": 1,
            "after": 2,
            "result": "done",
            "reason": None,
        }
    ]
    assert run_id.startswith("r-") and run_id.endswith("-0001")


def test_a_value_is_planned_as_the_target_holds_it(tmp_path: Path) -> None:
    found = rows(
        tmp_path,
        [item("1", "ROUND", price="12.34"), item("2", "FAR", price="1.00")],
        [item("a", "ROUND", price="12.345"), item("b", "FAR", price="7.129")],
        [],
    )
    two_places = Capabilities(money_places=2)
    the_plan = plan(SANDBOX_PAIR, found.values(), "store", ("price",), two_places)
    # 12.345 vs 12.34 is within the 0.005 tolerance: nothing to write. 7.129 is written as the
    # store keeps it, 7.13, which is within tolerance too, and the plan says so.
    assert [(c.sku, c.after, c.source_value) for c in the_plan.changes] == [
        ("FAR", Decimal("7.13"), Decimal("7.129"))
    ]
    assert the_plan.notes == ["FAR price: 7.129 is written as 7.13, as the store keeps it"]
    strict = replace(SANDBOX_PAIR, price_tolerance=Decimal(0))
    the_plan = plan(strict, found.values(), "store", ("price",), two_places)
    assert not the_plan.changes
    reasons = {r.sku: r.reason for r in the_plan.refusals}
    assert reasons["FAR"] == (
        "price 7.129: the store keeps 2 decimals, and 7.13 would stay out of tolerance"
    )


def test_fractions_and_currencies_the_target_cannot_take_are_refused(tmp_path: Path) -> None:
    found = rows(
        tmp_path,
        [item("1", "FRAC", quantity=2, price="5.00")],
        [item("a", "FRAC", quantity=Decimal("2.5"), price="6.00")],  # type: ignore[arg-type]
        [],
    )
    whole_usd = Capabilities(currency="USD")
    cad = Capabilities(currency="CAD")
    the_plan = plan(SANDBOX_PAIR, found.values(), "store", ("quantity", "price"), whole_usd, cad)
    assert not the_plan.changes
    assert [r.reason for r in the_plan.refusals] == [
        "quantity 2.5 is fractional: the store keeps whole units",
        "currencies differ (CAD to USD): price waits",
    ]
    fractional = Capabilities(fractional_quantity=True, currency="CAD")
    the_plan = plan(SANDBOX_PAIR, found.values(), "store", ("quantity", "price"), fractional, cad)
    assert [(c.field, c.after) for c in the_plan.changes] == [
        ("quantity", Decimal("2.5")),
        ("price", Decimal("6.00")),
    ]


def test_prices_compare_exactly_beyond_a_millionth(tmp_path: Path) -> None:
    found = rows(
        tmp_path,
        [item("1", "TINY", price="10.0000001"), item("2", "SAME", price="10.000000")],
        [item("a", "TINY", price="10.0050002"), item("b", "SAME", price="10.0050000")],
        [],
    )
    # 0.0050001 over a 0.005 tolerance: out of sync, though both round to the same millionths
    # gap; exactly 0.005 is within it.
    assert found["TINY"].cells["P"] == "N"
    assert found["SAME"].cells["P"] == "S"
