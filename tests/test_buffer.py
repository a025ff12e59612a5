"""The pair's `quantity_buffer`: the store kept below the master. Its rounding, the Q cell that
compares against the buffered value (SQL and Python agree), the plan that writes it, the config
key's errors, and a pair whose master is the store (the buffer does nothing)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.writekit import remote_items
from tui_sync import scheduler
from tui_sync.cache import Cache
from tui_sync.cli import main
from tui_sync.config import SANDBOX_PAIR, ConfigError, load_config
from tui_sync.model import Item, QuantityBuffer
from tui_sync.reconcile import Policy, reconcile
from tui_sync.refresh import refresh
from tui_sync.sync import policy_for
from tui_sync.views import iter_rows

ONE = QuantityBuffer(units=1)
FIVE_PERCENT = QuantityBuffer(share=Decimal("0.05"))


def test_units_and_percent_round_down_and_never_go_below_zero() -> None:
    assert ONE.apply(7) == 6
    assert ONE.apply(1) == 0
    assert QuantityBuffer(units=5).apply(3) == 0  # never below 0
    assert ONE.apply(0) == 0 and ONE.apply(-2) == -2  # a master at or below 0 is as it is
    # 5 % of 30 is 1.5: one whole unit is held back (rounded down), the store gets 29.
    assert FIVE_PERCENT.apply(30) == 29
    assert FIVE_PERCENT.apply(19) == 19  # 0.95 of a unit: nothing held back
    assert FIVE_PERCENT.apply(40) == 38
    assert QuantityBuffer(share=Decimal(1)).apply(12) == 0
    assert FIVE_PERCENT.apply(Decimal("40.5")) == Decimal("38.5")  # whole units held back
    assert str(ONE) == "1" and str(FIVE_PERCENT) == "5%"


def _items(side: str, quantities: list[int]) -> list[Item]:
    return [
        Item(id=f"{side}{i}", sku=f"SKU-{i}", name="Tote", quantity=q, price=Decimal("1.00"))
        for i, q in enumerate(quantities)
    ]


BUFFERS = st.one_of(
    st.builds(QuantityBuffer, units=st.integers(0, 6)),
    st.builds(
        QuantityBuffer, share=st.sampled_from([Decimal(s) for s in ("0.01", "0.05", "0.125")])
    ),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    buffer=BUFFERS,
    pairs=st.lists(st.tuples(st.integers(-3, 400), st.integers(0, 400)), min_size=1, max_size=30),
    exact=st.booleans(),
)
def test_the_q_cell_compares_the_store_with_the_buffered_master(
    tmp_path_factory: pytest.TempPathFactory,
    buffer: QuantityBuffer,
    pairs: list[tuple[int, int]],
    exact: bool,
) -> None:
    """Whatever the buffer and quantities, SQL's Q is S exactly when the store holds what
    `QuantityBuffer.apply` (the plan's value) says it should."""
    masters = [bo for bo, _ in pairs]
    # Half the examples put the store exactly at the buffered value, so both outcomes show.
    stores = [buffer.apply(bo) if exact and bo >= 0 else st_q for bo, st_q in pairs]
    cache = Cache.open(tmp_path_factory.mktemp("buffer"))
    cache.replace_items("p", "store", _items("s", [int(q) for q in stores]))
    cache.replace_items("p", "backoffice", _items("b", masters))
    reconcile(cache, "p", Policy(quantity_buffer=buffer))
    for row in iter_rows(cache, "p"):
        i = int(row.sku.split("-")[1])
        master, store = masters[i], int(stores[i])
        if master < 0:
            assert row.cells["QN"] == "N"
            continue
        expected = "S" if store == buffer.apply(master) else "N"
        assert row.cells["Q"] == expected, (buffer, master, store, row.cells)
    cache.close()


def test_the_buffer_does_nothing_when_the_store_is_the_master() -> None:
    pair = replace(SANDBOX_PAIR, quantity_buffer=ONE)
    assert policy_for(pair).quantity_buffer == ONE
    assert policy_for(replace(pair, master="store")).quantity_buffer is None


def _config(tmp_path: Path, line: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        '[connections.s]\nkind = "sandbox"\nside = "store"\n'
        '[connections.b]\nkind = "sandbox"\nside = "backoffice"\n'
        f'[pairs.main]\nstore = "s"\nbackoffice = "b"\n{line}\n'
    )
    return path


@pytest.mark.parametrize(
    ("line", "buffer"),
    [
        ("quantity_buffer = 1", ONE),
        ('quantity_buffer = "5%"', FIVE_PERCENT),
        ('quantity_buffer = "2.5 %"', QuantityBuffer(share=Decimal("0.025"))),
        ("quantity_buffer = 0", None),
        ("", None),
    ],
)
def test_the_config_key(tmp_path: Path, line: str, buffer: QuantityBuffer | None) -> None:
    assert load_config(_config(tmp_path, line)).pair("main").quantity_buffer == buffer


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("quantity_buffer = -1", "expected a whole number of units such as 1"),
        ('quantity_buffer = "5"', "or a percentage such as \"5%\", got '5'"),
        ("quantity_buffer = 1.5", "expected a whole number of units such as 1"),
        ("quantity_buffer = true", "expected a whole number of units such as 1"),
        ('quantity_buffer = "lots%"', 'expected a percentage such as "10%"'),
        ('quantity_buffer = "150%"', "expected between 0% and 100%"),
        ('quantity_buffer = "2.555%"', "at most two decimals in the percentage"),
    ],
)
def test_a_bad_buffer_is_one_line_naming_the_key(tmp_path: Path, line: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(_config(tmp_path, line))
    message = str(caught.value)
    assert "pairs.main.quantity_buffer: " in message and says in message, message
    assert "\n" not in message


def test_sync_writes_the_buffered_quantity_and_diff_then_reads_s(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, "quantity_buffer = 2")
    base = ["--config", str(config), "--data-dir", str(data_dir)]
    assert main([*base, "refresh"]) == 0
    assert main([*base, "diff", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    row = next(
        r
        for r in shown
        if r["cells"]["Q"] == "N"
        and r["status"] == "out_of_sync"
        and r["backoffice"]["quantity"] > 2
    )
    master = row["backoffice"]["quantity"]
    assert any("the store should hold" in reason for reason in row["reasons"])
    assert main([*base, "sync", "--to", "store", "--fields", "quantity", "--sku", row["sku"]]) == 0
    assert f"{row['store']['quantity']} -> {master - 2}" in capsys.readouterr().out
    store_id = row["store"]["id"]
    assert remote_items(data_dir)[("store", store_id)][0] == str(master - 2)
    assert main([*base, "refresh", "--full"]) == 0
    assert main([*base, "diff", "--json"]) == 0
    (after,) = [r for r in json.loads(capsys.readouterr().out) if r["sku"] == row["sku"]]
    assert after["cells"]["Q"] == "S" and after["store"]["quantity"] == master - 2


def test_a_tick_keeps_every_store_quantity_at_the_buffered_master(data_dir: Path) -> None:
    pair = replace(SANDBOX_PAIR, quantity_buffer=FIVE_PERCENT, fields=("quantity",))
    result = asyncio.run(scheduler.tick(data_dir, pair, asyncio.Event()))
    assert result.ok and result.plan is not None and result.plan.changes, result.line
    refresh(data_dir, pair, full=True)
    with Cache.open(data_dir) as cache:
        synced = {c.key for c in result.plan.changes}
        for row in iter_rows(cache, "sandbox"):
            if row.key not in synced:
                continue
            assert row.store is not None and row.backoffice is not None
            assert row.backoffice.quantity is not None
            assert row.store.quantity == FIVE_PERCENT.apply(row.backoffice.quantity)
            assert row.cells["Q"] == "S", row


def test_a_new_buffer_in_the_config_rescores_every_row_at_the_next_refresh(
    data_dir: Path,
) -> None:
    refresh(data_dir, SANDBOX_PAIR)
    buffered = replace(SANDBOX_PAIR, quantity_buffer=QuantityBuffer(units=1))
    summary = refresh(data_dir, buffered)  # incremental: no item changed
    assert not summary.full and not summary.rescored_only
    with Cache.open(data_dir) as cache:
        scored = [
            r
            for r in iter_rows(cache, "sandbox", statuses=["in_sync", "out_of_sync"])
            if r.store is not None
            and r.backoffice is not None
            and r.backoffice.quantity is not None
            and r.backoffice.quantity >= 0  # below 0 QN speaks, not Q
            and r.cells["Q"] in ("S", "N")
        ]
    assert scored
    changed = 0  # rows that read S before the buffer, and N with it
    for row in scored:
        assert row.store is not None and row.backoffice is not None
        assert row.backoffice.quantity is not None
        held = QuantityBuffer(units=1).apply(row.backoffice.quantity)
        assert (row.cells["Q"] == "S") == (row.store.quantity == held or row.cells["QP"] == "N")
        changed += row.store.quantity == row.backoffice.quantity
    assert changed > 0
    assert refresh(data_dir, buffered).rescored_only  # and the next one is incremental again
