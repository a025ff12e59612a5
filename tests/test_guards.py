"""The guards against mass damage (guards.py): each rule at its threshold, thresholds from the
pair's config, the plan hash, and `sync` refusing, confirming and checking a shown plan."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
import sqlite_utils

from tests.cli_helpers import fingerprint
from tests.writekit import (
    Home,
    refreshed_home,
    zero_backoffice,
)
from tui_sync import cache as cache_module
from tui_sync import guards
from tui_sync.cache import Cache
from tui_sync.config import ConfigError, load_config
from tui_sync.model import Change, Plan
from tui_sync.sandbox import outside

LIMITS = guards.Thresholds()


def counts(
    store: int = 100,
    backoffice: int = 100,
    prev: tuple[int | None, int | None] = (100, 100),
    with_quantity: int = 100,
    with_price: int = 100,
) -> guards.Counts:
    return guards.Counts(store, backoffice, *prev, with_quantity, with_price)


def a_plan(zeroed: int = 0, prices: Sequence[tuple[str, str]] = (), other: int = 1) -> Plan:
    """A plan to the store: `zeroed` quantities 5 -> 0, the given price moves, `other` 5 -> 6."""
    the_plan = Plan("sandbox", "store", ("quantity", "price"))
    for i in range(zeroed):
        the_plan.changes.append(Change(f"Z{i}", "store", f"z{i}", "quantity", 5, 0))
    for i in range(other):
        the_plan.changes.append(Change(f"Q{i}", "store", f"q{i}", "quantity", 5, 6))
    for i, (before, after) in enumerate(prices):
        the_plan.changes.append(
            Change(f"P{i}", "store", f"p{i}", "price", Decimal(before), Decimal(after))
        )
    return the_plan


# --- the rules, each at its threshold --------------------------------------------------------


def test_a_side_that_read_empty_is_refused_whatever_came_before() -> None:
    for prev in ((None, None), (0, 100), (100, 100)):
        (reason,) = guards.check(a_plan(), counts(store=0, prev=prev), LIMITS)
        assert reason.startswith("short read: the store read empty"), reason
    assert guards.check(a_plan(), counts(backoffice=0), LIMITS)[0].startswith(
        "short read: the back office read empty"
    )


def test_a_short_read_is_refused_beyond_ten_percent_fewer_items() -> None:
    assert guards.check(a_plan(), counts(store=90), LIMITS) == []  # exactly 10 %: allowed
    (reason,) = guards.check(a_plan(), counts(store=89), LIMITS)
    assert "store read 89 items, 100 the refresh before (11% fewer" in reason, reason
    assert guards.check(a_plan(), counts(backoffice=50), LIMITS)[0].startswith(
        "short read: the back office read 50"
    )
    assert guards.check(a_plan(), counts(store=50, prev=(None, None)), LIMITS) == []  # first
    assert guards.check(a_plan(), counts(store=200), LIMITS) == []  # more items: fine


def test_zeroing_more_than_a_fifth_of_the_quantities_is_refused() -> None:
    assert guards.check(a_plan(zeroed=20), counts(), LIMITS) == []  # 20 % exactly: allowed
    (reason,) = guards.check(a_plan(zeroed=21), counts(), LIMITS)
    assert reason == (
        "mass change: 21 of the store's 100 quantities would be set to zero (guard_zeroed 20%)"
    )
    # A small catalog: 9 of 20 is 45 %, but fewer than ten items is not "mass".
    assert guards.check(a_plan(zeroed=9), counts(with_quantity=20), LIMITS) == []
    assert guards.check(a_plan(zeroed=10), counts(with_quantity=20), LIMITS)
    # Quantities already zero are not "set to zero".
    already = a_plan()
    already.changes += [Change(f"A{i}", "store", f"a{i}", "quantity", 0, 0) for i in range(50)]
    assert guards.check(already, counts(), LIMITS) == []


def test_many_large_price_changes_are_refused() -> None:
    big = [("10.00", "15.01")] * 11  # +50.1 %
    (reason,) = guards.check(a_plan(prices=big), counts(), LIMITS)
    assert reason == (
        "mass change: 11 of the store's 100 prices would change by more than 50% "
        "(guard_price_share 10%)"
    )
    assert guards.check(a_plan(prices=big[:10]), counts(), LIMITS) == []  # 10 %: allowed
    assert guards.check(a_plan(prices=[("10.00", "15.00")] * 50), counts(), LIMITS) == []
    assert guards.check(a_plan(prices=[("10.00", "4.99")] * 11), counts(), LIMITS)  # -50.1 %
    assert guards.check(a_plan(prices=[("0", "4.99")] * 11), counts(), LIMITS)  # from zero


def test_an_empty_plan_is_never_refused() -> None:
    assert guards.check(a_plan(other=0), counts(store=0), LIMITS) == []


def test_thresholds_come_from_the_pairs_config(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[connections.s]\nkind = "sandbox"\nside = "store"\n'
        '[connections.b]\nkind = "sandbox"\nside = "backoffice"\n'
        '[pairs.main]\nstore = "s"\nbackoffice = "b"\nguard_short_read = "50%"\n'
        'guard_zeroed = "30%"\nguard_price_share = "1.5%"\nguard_price_change = "200%"\n'
        "guard_min_items = 3\n"
    )
    limits = guards.Thresholds.of(load_config(path).pair("main"))
    assert limits == guards.Thresholds(
        Decimal("0.5"), Decimal("0.3"), Decimal("0.015"), Decimal("2"), 3
    )
    assert guards.check(a_plan(zeroed=21), counts(store=60), limits) == []
    assert guards.check(a_plan(zeroed=31), counts(), limits)
    assert guards.check(a_plan(zeroed=3), counts(with_quantity=5), limits)
    assert guards.check(a_plan(prices=[("1.00", "3.01")] * 3), counts(), limits)
    assert guards.check(a_plan(prices=[("1.00", "2.99")] * 3), counts(), limits) == []


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ('guard_zeroed = "lots"', 'pairs.main.guard_zeroed: expected a percentage such as "10%"'),
        ("guard_zeroed = 0.2", 'pairs.main.guard_zeroed: expected a percentage such as "10%"'),
        ('guard_short_read = "150%"', "pairs.main.guard_short_read: expected between 0% and"),
        ('guard_price_change = "-5%"', "pairs.main.guard_price_change: expected 0% or more"),
        ("guard_min_items = -1", "pairs.main.guard_min_items: expected a whole number >= 0"),
        ('guard_zerod = "20%"', "unknown key pairs.main.guard_zerod (did you mean guard_zeroed?)"),
    ],
)
def test_bad_guard_thresholds_are_one_line_errors_naming_the_key(
    tmp_path: Path, line: str, says: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[connections.s]\nkind = "sandbox"\nside = "store"\n'
        '[connections.b]\nkind = "sandbox"\nside = "backoffice"\n'
        f'[pairs.main]\nstore = "s"\nbackoffice = "b"\n{line}\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert says in str(caught.value) and "\n" not in str(caught.value)


# --- the plan hash ----------------------------------------------------------------------------


def test_the_same_plan_has_the_same_hash_and_a_changed_value_another() -> None:
    one, two = (
        a_plan(zeroed=2, prices=[("1.00", "2.00")]),
        a_plan(zeroed=2, prices=[("1.00", "2.00")]),
    )
    two.changes.reverse()  # order does not matter, nor the version a write will carry
    two.changes[0] = replace(two.changes[0], version="v9", source_value=7)
    assert guards.plan_hash(one) == guards.plan_hash(two)
    assert len(guards.plan_hash(one)) == 10 and int(guards.plan_hash(one), 16) >= 0
    moved = a_plan(zeroed=2, prices=[("1.00", "2.01")])
    assert guards.plan_hash(moved) != guards.plan_hash(one)
    said = guards.compare(guards.plan_lines(one), guards.plan_lines(moved))
    assert said == [
        "0 line(s) added, 0 removed, 1 changed",
        "  changed: P0 price 1.00 -> 2.00  now  P0 price 1.00 -> 2.01",
    ]
    fewer = a_plan(zeroed=1, prices=[("1.00", "2.00")], other=2)
    said = guards.compare(guards.plan_lines(one), guards.plan_lines(fewer))
    assert said[0] == "1 line(s) added, 1 removed, 0 changed"
    assert "  added:   Q1 quantity 5 -> 6" in said and "  removed: Z1 quantity 5 -> 0" in said


# --- through the CLI ----------------------------------------------------------------------------

SIZE = 400
ALL_QTY = ("sync", "--to", "store", "--fields", "quantity", "--all")


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Home]:
    with refreshed_home(tmp_path, SIZE) as home:
        yield home


def test_sync_refuses_a_mass_zeroing_until_confirmed_with_both_flags(home: Home) -> None:
    zeroed = zero_backoffice(home.data, 120)  # of ~400 store quantities: more than 20 %
    home.ok("refresh")
    with Cache.open(home.data) as cache:
        stocked = cache.sellable_with("sandbox", "store", "quantity")
    before = fingerprint(home.root)
    for extra in ((), ("--yes",), ("--allow-mass-change",)):
        out = home.run(*ALL_QTY, *extra)
        assert out.returncode == 1, (extra, out.stdout, out.stderr)
        assert zeroed[0] in out.stdout  # the plan is printed
        guard_lines = [ln for ln in out.stderr.splitlines() if ln.startswith("tui-sync: guard: ")]
        assert guard_lines == [
            f"tui-sync: guard: mass change: 120 of the store's {stocked:,} quantities would be "
            "set to zero (guard_zeroed 20%)"
        ]
        assert "--yes --allow-mass-change" in out.stderr.splitlines()[-1]
        assert fingerprint(home.root) == before  # nothing written, no run recorded
    dry = home.ok(*ALL_QTY, "--dry-run")
    assert "guard: mass change: 120 of the store's" in dry.stdout
    home.ok(*ALL_QTY, "--yes", "--allow-mass-change")
    zero = {r.sku for r in home.rows() if r.store and r.store.quantity == 0}
    assert set(zeroed) <= zero


def test_sync_refuses_a_plan_built_on_a_short_read(home: Home) -> None:
    with Cache.open(home.data) as cache:
        info = cache.refresh_info("sandbox")
    assert info is not None
    read_before = info.backoffice_items
    # A hundred items gone from the books' answer (made inactive: QuickBooks deletes nothing).
    for item_id in list(outside.skus(home.data, "backoffice"))[-100:]:
        outside.delete_item(home.data, "backoffice", item_id)
    home.ok("refresh")
    out = home.run("sync", "--to", "store", "--fields", "both", "--all")
    assert out.returncode == 1, out.stderr
    assert (
        f"tui-sync: guard: short read: the back office read {read_before - 100:,} items, "
        f"{read_before:,} the refresh before" in out.stderr
    )
    # Read short twice running, it is still refused: a short read never becomes the baseline.
    home.ok("refresh")
    assert home.run("sync", "--to", "store", "--fields", "both", "--all").returncode == 1
    home.ok("sync", "--to", "store", "--fields", "both", "--all", "--yes", "--allow-mass-change")
    with Cache.open(home.data) as cache:
        info = cache.refresh_info("sandbox")
    # Confirmed: the new baseline.
    assert info is not None and info.prev_backoffice_items == read_before - 100


def test_plan_hash_applies_the_plan_shown_and_refuses_a_changed_one(home: Home) -> None:
    rows = [r for r in home.rows(["out_of_sync"]) if r.cells["P"] == "N"][:3]
    skus = ",".join(r.sku for r in rows)
    args = ("sync", "--to", "store", "--fields", "price", "--sku", skus)
    shown = home.ok(*args, "--dry-run").stdout
    (hash_line,) = [line for line in shown.splitlines() if line.startswith("plan hash ")]
    planned = hash_line.split()[-1]
    assert home.ok(*args, "--dry-run").stdout == shown  # the same plan, the same hash
    # A back-office price moves after the plan was shown: the plan now is not the one shown.
    moved = rows[0].backoffice
    assert moved is not None and moved.price is not None
    outside.set_value(home.data, "backoffice", moved.id, "price", moved.price + Decimal("1.25"))
    home.ok("refresh")
    before = fingerprint(home.root)
    out = home.run(*args, "--plan-hash", planned)
    assert out.returncode == 1, out.stderr
    err = out.stderr.splitlines()
    assert err[0].startswith("tui-sync: plan hash ") and f"is not {planned}" in err[0]
    assert err[1] == "0 line(s) added, 0 removed, 1 changed"
    assert err[2].startswith(f"  changed: {rows[0].sku} price")
    assert fingerprint(home.root) == before
    assert home.run(*args, "--plan-hash", "nothex").returncode == 2
    # Shown again, the new hash applies.
    again = home.ok(*args, "--dry-run").stdout
    now = next(line for line in again.splitlines() if line.startswith("plan hash ")).split()[-1]
    assert now != planned
    home.ok(*args, "--plan-hash", now)


def test_a_short_read_never_becomes_the_baseline_on_either_side(tmp_path: Path) -> None:
    def prev() -> tuple[int | None, int | None]:
        info = cache.refresh_info("p")
        assert info is not None
        return info.prev_store_items, info.prev_backoffice_items

    with Cache.open(tmp_path) as cache:
        cache.record_refresh("p", 100, 100)
        assert prev() == (None, None)
        cache.record_refresh("p", 50, 95)
        assert prev() == (100, 100)
        cache.record_refresh("p", 50, 40)  # the store's 50 was short: its baseline stays
        assert prev() == (100, 95)
        cache.record_refresh("p", 50, 40)
        assert prev() == (100, 95)
        cache.accept_counts("p")  # a person confirmed a plan on these counts
        assert prev() == (50, 40)
        cache.record_refresh("p", 48, 40)
        assert prev() == (50, 40)


def test_a_cache_of_the_previous_schema_keeps_its_runs_and_gains_the_baseline(
    tmp_path: Path,
) -> None:
    conn = sqlite3.connect(tmp_path / cache_module.CACHE_FILE, isolation_level=None)
    db = sqlite_utils.Database(conn)
    for migrate in cache_module.MIGRATIONS[:2]:  # as the release before this one left it
        migrate(db)
    conn.execute("PRAGMA user_version = 2")
    conn.execute("INSERT INTO refreshes VALUES ('p', '2026-11-30T00:00:00Z', 10, 12, 'a', 'b', 3)")
    conn.close()
    with Cache.open(tmp_path) as cache:
        info = cache.refresh_info("p")
        assert info is not None and (info.store_items, info.backoffice_items) == (10, 12)
        assert (info.prev_store_items, info.prev_backoffice_items) == (None, None)
        assert info.since_full == 3 and info.store_mark == "a"
        cache.record_refresh("p", 11, 12, ("c", "d"), full=False)
        info = cache.refresh_info("p")
        assert info is not None and info.prev_store_items == 10 and info.since_full == 4
