"""The BigCommerce connector against the sandbox BigCommerce server, over real HTTP on loopback.

Every request the connector sends is validated by the server against BigCommerce's official
OpenAPI files; each test's teardown asserts that none was invalid."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.cli_helpers import SCRIPT
from tui_sync.config import Connection, Secret
from tui_sync.connectors import bigcommerce, capabilities, open_connector
from tui_sync.connectors.base import ConnectorError
from tui_sync.connectors.bigcommerce import BigCommerceConnector
from tui_sync.connectors.http import AuthFailed
from tui_sync.model import Batch, Change, Field, Item
from tui_sync.money import Number
from tui_sync.sandbox.bigcommerce_api import BigCommerceSandbox
from tui_sync.sandbox.bigcommerce_spec import preload
from tui_sync.sandbox.server import RunningServer

TOKEN = "bc-test-token-7f3a9c"
T = TypeVar("T")


class Store:
    def __init__(self, sandbox: BigCommerceSandbox, url: str) -> None:
        self.sb, self.url = sandbox, url

    def connection(self, token: str = TOKEN, **more: object) -> Connection:
        settings = {"store_hash": "abc", "token": Secret("inline", token), "api_url": self.url}
        return Connection("shop", "bigcommerce", {**settings, **more})

    def run(
        self,
        action: Callable[[BigCommerceConnector], Awaitable[T]],
        token: str = TOKEN,
        statuses: tuple[str, ...] | None = None,
    ) -> T:
        async def go() -> T:
            async with httpx.AsyncClient() as client:
                conn = self.connection(token)
                return await action(BigCommerceConnector(conn, "store", client, statuses))

        return asyncio.run(go())

    def items(self) -> dict[str, Item]:
        async def read(c: BigCommerceConnector) -> dict[str, Item]:
            return {i.id: i async for page in c.read_items() for i in page}

        return self.run(read)

    def write(self, *changes: Change, token: str = TOKEN) -> dict[int, tuple[str, Any]]:
        async def send(c: BigCommerceConnector) -> dict[int, tuple[str, Any]]:
            results = await c.write(Batch("run7-abc-1", changes))
            return {r.change_id: (r.outcome, r.value) for r in results}

        return self.run(send, token)

    def puts(self, path: str) -> int:
        return sum(1 for m, p, _ in self.sb.requests if m == "PUT" and p.endswith(path))


@pytest.fixture(scope="session", autouse=True)
def _specs() -> None:
    preload()  # once per worker, not inside a timed request


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    sandbox = BigCommerceSandbox(tmp_path / "bc.db", TOKEN, "abc", adjust_delay=0.3)
    with RunningServer(sandbox.app) as server:
        yield Store(sandbox, server.url)
    assert sandbox.spec_errors == []


def change(n: int, item: Item, field: Field, after: Number, before: Number | None = None) -> Change:
    now = item.value(field) if before is None else before
    return Change(item.sku or "", "store", item.id, field, now, after, ref=item.ref, id=n)


# --- reads -----------------------------------------------------------------------------------


def test_full_read_across_pages(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bigcommerce, "PAGE", 100)
    items = store.items()
    pages = [q for m, p, q in store.sb.requests if p.endswith("/v3/catalog/products")]
    assert len(pages) == 3 and all("include=variants" in q and "limit=100" in q for q in pages)
    assert sorted(q.split("page=")[1].split("&")[0] for q in pages) == ["1", "2", "3"]
    # A product without options is ONE item: its base variant is never a second one.
    simple = items["1"]
    assert not simple.is_base and simple.parent_id is None and simple.options == ()
    assert not [i for i in items if i.startswith("1:")]
    skus = [i.sku for i in items.values()]
    assert len(skus) == len(set(skus))
    # A product with options: a base and its variants, with their options.
    base, variants = items["3"], [i for i in items.values() if i.parent_id == "3"]
    assert base.is_base and base.quantity is None and len(variants) >= 3
    first = variants[0]
    assert first.options == (("Color", "Red"), ("Size", "S")) and first.sku == "BC-00003-RED-S"
    assert simple.brand == "Ironclad" and base.brand == "Bluebird"
    assert store.sb.sql("SELECT count(*) FROM products")[0][0] == sum(
        1 for i in items.values() if i.parent_id is None
    )
    # A null variant price is the product's; quantity from inventory_level.
    (pid_price,) = store.sb.sql("SELECT price FROM products WHERE id = 3")[0]
    inherited = [
        i for i in variants if store.sb.sql("SELECT price FROM variants WHERE id = ?",
                                            int(i.id.split(":")[1]))[0][0] is None
    ]  # fmt: skip
    assert inherited and all(i.price == Decimal(pid_price) for i in inherited)
    assert isinstance(simple.price, Decimal) and isinstance(simple.quantity, int)
    assert simple.quantity == store.sb.sql("SELECT inventory_level FROM products WHERE id=1")[0][0]


def test_an_incremental_read_asks_only_for_what_changed(store: Store) -> None:
    async def both(c: BigCommerceConnector) -> tuple[int, list[str]]:
        full = [i async for page in c.read_items() for i in page]
        mark = c.watermark()
        assert mark is not None
        store.sb.sql("UPDATE products SET date_modified = '2999-01-01T00:00:00+00:00' WHERE id=4")
        again = [i.id async for page in c.read_items(mark) for i in page]
        return len(full), again

    total, changed = store.run(both)
    # `date_modified:min` is inclusive: the newest product of the full read comes again.
    assert total > 800 and {i.partition(":")[0] for i in changed} == {"4", "300"}
    assert "date_modified%3Amin=" in store.sb.requests[-1][2]
    assert capabilities(store.connection(), "store").incremental


@pytest.mark.parametrize("empty", ["204", "200 []"])
def test_pending_orders_and_the_statuses_that_never_count(store: Store, empty: str) -> None:
    store.sb.faults["empty_200"] = empty == "200 []"
    lines = store.run(lambda c: c.read_pending())
    # Awaiting Fulfillment/Shipment/Pickup, Partially Shipped, Manual Verification, Awaiting
    # Payment; never Shipped, Refunded, Cancelled, Declined, Completed, Incomplete, Pending.
    assert sorted({line.order_id for line in lines}) == ["103", "107", "108", "109", "111", "112"]
    assert [(x.sku, x.quantity) for x in lines if x.order_id == "111"] == [
        ("BC-00001", 2),
        ("BC-00002", 3),  # 4 ordered, 1 shipped
    ]
    only = store.run(lambda c: c.read_pending(), statuses=("awaiting fulfillment", "2", "5"))
    assert {line.order_id for line in only} == {"111"}
    with pytest.raises(ConnectorError, match="unknown BigCommerce status 'Lost'"):
        store.run(lambda c: c.read_pending(), statuses=("Lost",))
    assert store.run(lambda c: c.posted_orders(["111"])) == set()


# --- writes ----------------------------------------------------------------------------------


def test_each_field_is_written_and_quantity_confirmed_by_reading_back(store: Store) -> None:
    items = store.items()
    simple, variant = items["1"], items["3:3"]
    out = store.write(
        change(1, simple, "price", Decimal("12.3456")),
        change(2, simple, "cost", Decimal("5.10")),
        change(3, simple, "quantity", 17),
        change(4, variant, "price", Decimal("44.00")),
        change(5, variant, "cost", Decimal("20")),
        change(6, variant, "quantity", 9),
    )
    assert out == {
        1: ("done", Decimal("12.3456")),
        2: ("done", Decimal("5.10")),
        3: ("done", 17),
        4: ("done", Decimal("44.00")),
        5: ("done", Decimal("20")),
        6: ("done", 9),
    }
    assert store.sb.sql("SELECT price, cost_price, inventory_level FROM products WHERE id=1") == [
        ("12.3456", "5.10", 17)
    ]
    # Kept as a double would be: 20 comes back 20.00 (two places at least).
    assert store.sb.sql("SELECT price, cost_price, inventory_level FROM variants WHERE id=3") == [
        ("44.00", "20.00", 9)
    ]
    # One variants call, one products call, one adjustment (by product id for a product-tracked
    # item, by variant id for a variant), tagged with the run; confirmed by later reads.
    assert [store.puts(p) for p in ("/variants", "/products", "/absolute")] == [1, 1, 1]
    adjustment = store.sb.bodies[-1]
    assert adjustment["reason"] == "tui-sync run7-abc-1"
    assert {"location_id": 1, "product_id": 1, "quantity": 17} in adjustment["items"]
    assert {"location_id": 1, "variant_id": 3, "quantity": 9} in adjustment["items"]
    last_put = max(i for i, r in enumerate(store.sb.requests) if r[0] == "PUT")
    assert any(m == "GET" for m, _, _ in store.sb.requests[last_put + 1 :])


def test_a_negative_or_fractional_quantity_is_refused_before_sending(store: Store) -> None:
    simple = store.items()["1"]
    out = store.write(change(1, simple, "quantity", -2), change(2, simple, "price", Decimal(-1)))
    assert out == {1: ("rejected", None), 2: ("rejected", None)}
    assert store.puts("") == 0


def test_a_batch_larger_than_one_request_and_a_413_split(store: Store) -> None:
    variants = [i for i in store.items().values() if i.parent_id][:60]
    out = store.write(*(change(n, v, "price", Decimal(n)) for n, v in enumerate(variants, 1)))
    assert all(outcome == "done" for outcome, _ in out.values()) and len(out) == 60
    assert [len(b) for b in store.sb.bodies] == [50, 10]
    store.sb.variant_limit = 20  # the store lowers its limit ("subject to change" [S3])
    store.sb.bodies.clear()
    variants = [i for i in store.items().values() if i.parent_id][:50]
    out = store.write(*(change(n, v, "price", Decimal(n + 100)) for n, v in enumerate(variants)))
    assert all(outcome == "done" for outcome, _ in out.values())
    assert sorted(len(b) for b in store.sb.bodies) == [12, 12, 13, 13, 25, 25, 50]
    fresh = store.items()
    assert [fresh[v.id].price for v in variants] == [n + 100 for n in range(50)]


def test_a_4xx_on_one_item_of_a_batch_the_rest_reported_truthfully(store: Store) -> None:
    variants = [i for i in store.items().values() if i.parent_id][:5]
    store.sb.faults["reject_variant"] = int(variants[2].id.split(":")[1])
    out = store.write(*(change(n, v, "price", Decimal("7.77")) for n, v in enumerate(variants)))
    assert [out[n][0] for n in range(5)] == ["done", "done", "rejected", "done", "done"]
    prices = [
        store.sb.sql("SELECT price FROM variants WHERE id = ?", int(v.id.split(":")[1]))[0][0]
        for v in variants
    ]
    assert [p == "7.77" for p in prices] == [True, True, False, True, True]


def test_a_value_changed_between_read_and_write_is_a_conflict(store: Store) -> None:
    variant = store.items()["3:3"]
    store.sb.sql("UPDATE variants SET price = '99.99' WHERE id = 3")  # someone else, meanwhile
    out = store.write(change(1, variant, "price", Decimal("1.00")))
    assert out == {1: ("conflict", Decimal("99.99"))}
    assert store.sb.sql("SELECT price FROM variants WHERE id = 3") == [("99.99",)]
    assert store.puts("") == 0


def test_a_lost_answer_after_the_write_landed_is_unknown_never_guessed(store: Store) -> None:
    variant = store.items()["3:3"]
    store.sb.faults["lose_write"] = 1
    out = store.write(change(1, variant, "price", Decimal("3.21")))
    assert out == {1: ("unknown", None)}
    assert store.sb.sql("SELECT price FROM variants WHERE id = 3") == [("3.21",)]


# --- the shared client's rules, as BigCommerce says them -----------------------------------


@pytest.mark.parametrize("style", ["reset", "window", "retry"])
def test_429_then_success_with_either_header_reading(store: Store, style: str) -> None:
    store.sb.window_ms = 800  # both readings of Reset-Ms stay short
    store.sb.faults.update(storm=2, storm_style=style)
    assert len(store.items()) > 800
    first = store.sb.requests[0][2]
    assert [r[2] for r in store.sb.requests[:3]] == [first] * 3  # the same page, twice refused


def test_5xx_then_success(store: Store) -> None:
    store.sb.faults["fail_5xx"] = 2
    assert len(store.items()) > 800
    variant = store.items()["3:3"]
    store.sb.faults["fail_5xx"] = 0
    store.sb.sql("UPDATE variants SET price = '5' WHERE id = 3")
    fresh = store.items()["3:3"]
    assert fresh.price == 5 and variant.price != 5


def test_a_401_is_one_clear_line_and_nothing_is_written(store: Store) -> None:
    with pytest.raises(AuthFailed) as raised:
        store.run(lambda c: c.read_pending(), token="wrong-token-123")
    message = str(raised.value)
    assert message.startswith("connections.shop: HTTP 401") and "check the token" in message
    assert "\n" not in message and "wrong-token-123" not in message
    item = Item("1", "BC-00001", "x", quantity=1, price=Decimal(1))
    with pytest.raises(AuthFailed):
        store.write(change(1, item, "price", Decimal(2)), token="wrong-token-123")
    assert store.puts("") == 0


def test_a_malformed_body_is_a_clear_error(store: Store) -> None:
    store.sb.faults["malformed"] = 1
    with pytest.raises(ConnectorError) as raised:
        store.items()
    assert "not valid JSON" in str(raised.value) and "connections.shop" in str(raised.value)


def test_capabilities_without_a_network_call(store: Store) -> None:
    caps = capabilities(store.connection(), "store")
    assert not caps.negative_quantity and caps.money_places == 4 and caps.batch_size == 50
    assert caps.has_brand and caps.has_cost and caps.has_options
    assert store.sb.requests == []
    conn = open_connector(Path("."), store.connection(), "store", None, httpx.AsyncClient())
    assert conn.kind == "bigcommerce" and store.sb.requests == []


# --- the real console script -----------------------------------------------------------------

BOOKS = (
    "sku,name,quantity,price,cost\n"
    "BC-00004,Table Lamp 4,33,10.50,4.00\n"
    "BC-00003-RED-S,Rain Shell 3,8,26.69,12.01\n"
)


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BC_TEST_TOKEN": TOKEN}
    return subprocess.run(
        [SCRIPT, "--config", str(home / "config.toml"), "--data-dir", str(home / "data"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_refresh_diff_sync_through_the_cli(store: Store, tmp_path: Path) -> None:
    (tmp_path / "books.csv").write_text(BOOKS)
    (tmp_path / "config.toml").write_text(
        f'[connections.shop]\nkind = "bigcommerce"\nstore_hash = "abc"\napi_url = "{store.url}"\n'
        'token = { env = "BC_TEST_TOKEN" }\n'
        '[connections.books]\nkind = "csv"\npath = "books.csv"\n'
        '[pairs.main]\nstore = "shop"\nbackoffice = "books"\n'
    )
    # A malformed answer: one clear line, and the cache keeps what it had (nothing yet).
    store.sb.faults["malformed"] = 1
    out = cli(tmp_path, "refresh")
    assert out.returncode != 0 and "not valid JSON" in out.stderr and "Traceback" not in out.stderr
    assert cli(tmp_path, "refresh").returncode == 0
    rows = {r["sku"]: r for r in json.loads(cli(tmp_path, "diff", "--json").stdout)}
    assert rows["BC-00004"]["status"] == "out_of_sync"
    assert rows["BC-00003-RED-S"]["status"] == "out_of_sync"
    assert rows["BC-00001"]["status"] == "store_only"
    # The price write's answer is lost after it landed: settled by reading back, not guessed.
    store.sb.faults["lose_write"] = 1
    out = cli(
        tmp_path, "sync", "--to", "store", "--fields", "quantity,price,cost", "--all", "--yes"
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "4 done, 0 conflict(s), 0 failed" in out.stdout, out.stdout
    ((price, level),) = store.sb.sql("SELECT price, inventory_level FROM products WHERE id = 4")
    assert Decimal(price) == Decimal("10.50") and level == 33
    assert store.sb.sql("SELECT inventory_level FROM variants WHERE id = 3") == [(8,)]
    # The store keeps the adjustments' reason: ours name the run that wrote them.
    (run_id,) = re.findall(r"\br-\d{8}-\d{4}\b", out.stdout.splitlines()[-1])
    ((reason,),) = store.sb.sql("SELECT reason FROM applied_adjustments WHERE product_id = 4")
    assert re.fullmatch(rf"tui-sync {run_id}-[0-9a-f]{{12}}-\d+", reason), reason
    rows = {r["sku"]: r for r in json.loads(cli(tmp_path, "diff", "--json").stdout)}
    assert rows["BC-00004"]["status"] == "in_sync" and rows["BC-00003-RED-S"]["status"] == "in_sync"


def test_reads_spend_the_quota_left_without_passing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Answers say how much of the window's quota is left: a read goes as fast as that allows
    and never past it (no 429), where pacing at quota/window from a full burst did pass it."""
    monkeypatch.setattr(bigcommerce, "PAGE", 10)
    sandbox = BigCommerceSandbox(tmp_path / "bc.db", TOKEN, "abc", quota=15, window_ms=1500)
    sandbox.faults["latency_ms"] = 50  # several pages in flight when the quota runs out
    throttled: list[int] = []
    refuse = sandbox._throttled

    def counted(style: str = "reset") -> Any:
        throttled.append(1)
        return refuse(style)

    monkeypatch.setattr(sandbox, "_throttled", counted)
    with RunningServer(sandbox.app) as server:
        items = Store(sandbox, server.url).items()
    pages = [q for m, p, q in sandbox.requests if p.endswith("/v3/catalog/products")]
    assert len(pages) == 30 and len({i.split(":")[0] for i in items}) == 300
    assert throttled == []


def test_a_refresh_reads_pending_orders_while_it_reads_the_items(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Items, deletions and pending orders are independent reads: a refresh asks for them at
    once, so over HTTP it waits for the slowest, not for their sum."""
    from tui_sync.config import PairConfig
    from tui_sync.refresh import refresh

    monkeypatch.setattr(bigcommerce, "PAGE", 10)  # 30 pages of products
    store.sb.faults["latency_ms"] = 20
    (tmp_path / "books.csv").write_text("sku,name,quantity,price\nBC-00001,One,1,1.00\n")
    books = Connection("books", "csv", {"path": tmp_path / "books.csv"})
    summary = refresh(tmp_path / "data", PairConfig("main", store.connection(), books))
    assert summary.store_items > 300 and summary.pending_lines > 0
    paths = [p for m, p, q in store.sb.requests if m == "GET"]
    first_order = next(i for i, p in enumerate(paths) if p.endswith("/v2/orders"))
    last_page = max(i for i, p in enumerate(paths) if p.endswith("/v3/catalog/products"))
    assert first_order < last_page


def test_a_location_other_than_the_default_is_refused_in_one_line(store: Store) -> None:
    """Stock is read as the store's total; written to one other location it would be wrong."""
    client = httpx.AsyncClient()
    try:
        with pytest.raises(ConnectorError, match=r"^connections\.shop: location_id 2: only "):
            BigCommerceConnector(store.connection(location_id="2"), "store", client)
        assert BigCommerceConnector(store.connection(location_id="1"), "store", client).location
    finally:
        asyncio.run(client.aclose())
