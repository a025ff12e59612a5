"""The QuickBooks Online connector against the sandbox QBO server, over real HTTP on 127.0.0.1.

Every Item the tests make the connector send is validated against Intuit's Finance.xsd by the
server; the fixture fails a test whose requests broke the schema."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.test_http import Clock
from tui_sync.config import Connection, Secret
from tui_sync.connectors import capabilities
from tui_sync.connectors.base import AuthError, ConnectorError
from tui_sync.connectors.http import RateLimiter, new_client
from tui_sync.connectors.quickbooks import QuickBooksConnector
from tui_sync.model import Batch, Change, Field, Item
from tui_sync.money import Number
from tui_sync.sandbox.quickbooks_api import CLIENT_ID, CLIENT_SECRET, REALM, QboSandbox
from tui_sync.sandbox.server import serving

CHECK = "check the connection's credentials (refresh token expired or revoked?)"


@dataclass
class Qbo:
    sandbox: QboSandbox
    url: str
    refresh_token: str
    data_dir: Path

    def connection(self, refresh_token: str | None = None) -> Connection:
        return Connection(
            "books",
            "quickbooks",
            {
                "realm_id": REALM,
                "client_id": Secret("inline", CLIENT_ID),
                "client_secret": Secret("inline", CLIENT_SECRET),
                "refresh_token": Secret("inline", refresh_token or self.refresh_token),
                "api_url": self.url,
                "token_url": self.url + "/oauth2/v1/tokens/bearer",
            },
        )

    def connector(
        self, client: httpx.AsyncClient, clock: Clock | None = None, **kw: object
    ) -> QuickBooksConnector:
        if clock is not None:
            kw["limiter"] = RateLimiter(8, 2, clock=clock, sleep=clock.sleep)
            kw["sleep"] = clock.sleep
        return QuickBooksConnector(
            self.connection(),
            "backoffice",
            self.data_dir,
            client,
            **kw,  # type: ignore[arg-type]
        )

    def item(self, item_id: str) -> dict[str, object]:
        found = self.sandbox.company.item(item_id)
        assert found is not None
        return found


@pytest.fixture
def qbo(tmp_path: Path) -> Iterator[Qbo]:
    sandbox = QboSandbox(tmp_path / "qbo.db")
    token = sandbox.issue_refresh_token()
    with serving(sandbox.app) as url:
        yield Qbo(sandbox, url, token, tmp_path / "data")
    assert sandbox.validation_errors == [], "a request broke Finance.xsd"


async def read_all(connector: QuickBooksConnector, since: str | None = None) -> list[Item]:
    return [item async for page in connector.read_items(since) for item in page]


async def current(connector: QuickBooksConnector, item_id: str) -> Item:
    return (await connector.read_current([item_id]))[item_id]


def change(n: int, item: Item, field: Field, after: Number) -> Change:
    return Change(
        item.sku or "", "backoffice", item.id, field, item.value(field), after, item.version, id=n
    )


async def write(connector: QuickBooksConnector, *changes: Change) -> dict[int, tuple[str, ...]]:
    results = await connector.write(Batch("run-1", changes))
    assert sorted(r.change_id for r in results) == sorted(c.id for c in changes)
    return {r.change_id: (r.outcome, str(r.value), str(r.version), r.reason or "") for r in results}


# --- reads -----------------------------------------------------------------------------------


async def test_full_read_across_several_pages_then_incremental_and_deleted(qbo: Qbo) -> None:
    async with new_client() as client:
        books = qbo.connector(client, page_size=50)
        items = await read_all(books)
        by_sku = {i.sku: i for i in items}
        queries = [q for m, _, q in qbo.sandbox.requests if m == "GET"]
        pages = [q for q in queries if "STARTPOSITION" in q and "Group" not in q]
        assert len(pages) == 7 and "SELECT * FROM Item STARTPOSITION 301 MAXRESULTS 50" in pages
        assert qbo.sandbox.minor_versions == {"75"}
        assert qbo.sandbox.throttled == 0  # 4 pages in flight, and still under 10 requests/s
        # 300 inventory items (3 inactive), 10 groups, 20 non-inventory, 3 services; no categories.
        assert len(items) == 297 + 10 + 20 + 3 and len(by_sku) == len(items) - 3 + 1
        group = by_sku["G-01"]
        assert group.is_base and group.quantity is None
        assert by_sku["W-0003"].parent_id == group.id and by_sku["W-0001"].parent_id is None
        assert by_sku["W-0050"].quantity == Decimal(str(qbo.item("50")["QtyOnHand"]))
        assert isinstance(by_sku["W-0050"].quantity, Decimal)
        assert by_sku["N-01"].quantity is None and by_sku["N-01"].price == Decimal(5)
        assert by_sku["W-0001"].version == "0" and "W-0097" not in by_sku  # inactive
        mark = books.watermark()
        assert mark is not None

        qbo.sandbox.company.change("2", UnitPrice=Decimal("1.25"))
        qbo.sandbox.company.change("4", Active=False)
        changed = await read_all(qbo.connector(client, page_size=50), since=mark)
        assert [(i.id, i.price, i.version) for i in changed] == [("2", Decimal("1.25"), "1")]
        assert await books.read_deleted(mark) == ["4"]


async def test_posted_orders_by_doc_number_on_sales_receipts_and_invoices(qbo: Qbo) -> None:
    async with new_client() as client:
        books = qbo.connector(client)
        many = [str(n) for n in range(3000, 3120)]  # more than one IN list
        ids = ["1001", "2003", "9999", "x'y", *many, "1005"]
        assert await books.posted_orders(ids) == {"1001", "1005", "2003"}
        queries = [q for m, _, q in qbo.sandbox.requests if "DocNumber" in q]
        assert {q.split()[3] for q in queries} == {"SalesReceipt", "Invoice"}
        assert len(queries) == 2 * 3 and any(r"'x\'y'" in q for q in queries)


async def test_the_server_throttles_a_client_that_goes_too_fast(qbo: Qbo) -> None:
    async with new_client() as client:
        books = qbo.connector(client)
        await current(books, "1")
        headers = {"Authorization": f"Bearer {books.auth.current}"}
        url = f"{qbo.url}/v3/company/{REALM}/query"
        params = {"query": "SELECT COUNT(*) FROM Item", "minorversion": "75"}
        answers = await asyncio.gather(
            *(client.get(url, params=params, headers=headers) for _ in range(15))
        )
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(429) >= 4 and statuses[0] == 200
    assert next(a for a in answers if a.status_code == 429).headers["Retry-After"] == "1"


def test_capabilities_need_no_network(qbo: Qbo) -> None:
    caps = capabilities(qbo.connection(), "backoffice")
    assert not caps.multi_field_write and caps.fractional_quantity and caps.negative_quantity
    assert caps.incremental and not caps.has_brand and not caps.has_options
    assert qbo.sandbox.requests == [] and qbo.sandbox.refreshes == 0


# --- writes ----------------------------------------------------------------------------------


async def test_each_writable_field_is_a_sparse_update_with_its_synctoken(qbo: Qbo) -> None:
    async with new_client() as client:
        books = qbo.connector(client)
        one, two, three = (await books.read_current(["10", "11", "12"])).values()
        results = await write(
            books,
            change(1, one, "price", Decimal("21.5")),
            change(2, two, "cost", Decimal("8.1234")),
            change(3, three, "quantity", Decimal("-2.25")),
        )
        assert results[1][:3] == ("done", "21.5", "1")
        assert results[2][:3] == ("done", "8.1234", "1")
        assert results[3][:3] == ("done", "-2.25", "1")
        assert qbo.item("10")["UnitPrice"] == Decimal("21.5")
        assert qbo.item("11")["PurchaseCost"] == Decimal("8.1234")
        assert qbo.item("12")["QtyOnHand"] == Decimal("-2.25")
        sent = {w["Id"]: w for w in qbo.sandbox.writes()}
        assert sent["10"] == {
            "Id": "10",
            "SyncToken": "0",
            "sparse": True,
            "UnitPrice": Decimal("21.5"),
        }
        assert set(sent["12"]) == {"Id", "SyncToken", "sparse", "QtyOnHand"}


async def test_a_batch_larger_than_one_request_and_one_field_per_item_per_batch(qbo: Qbo) -> None:
    async with new_client() as client:
        books = qbo.connector(client)
        items = await books.read_current([str(n) for n in range(20, 32)])
        changes = [change(n, i, "price", Decimal(n)) for n, i in enumerate(items.values(), 1)]
        results = await write(books, *changes)
        assert [r[0] for r in results.values()] == ["done"] * 12
        assert qbo.sandbox.throttled == 0  # the limiter kept 12 writes under QBO's 10/s
        assert len(qbo.sandbox.writes()) == 12
        both = [*changes, change(99, items["20"], "quantity", 5)]
        batches = books.batches(both)
        assert [len(b) for b in batches] == [10, 3]
        assert all(len({c.item_id for c in b}) == len(b) for b in batches)


async def test_a_4xx_on_one_item_of_a_batch_the_rest_reported_truthfully(qbo: Qbo) -> None:
    qbo.sandbox.faults.reject_items = {"41"}
    async with new_client() as client:
        books = qbo.connector(client)
        items = await books.read_current(["40", "41", "42"])
        results = await write(
            books, *(change(n, items[str(39 + n)], "price", Decimal("3.33")) for n in (1, 2, 3))
        )
    assert results[1][0] == results[3][0] == "done"
    assert results[2][0] == "rejected" and "W-0041 price" in results[2][3]
    assert "Business Validation Error" in results[2][3] and "6000" in results[2][3]
    assert qbo.item("41")["UnitPrice"] != Decimal("3.33")
    assert qbo.item("42")["UnitPrice"] == Decimal("3.33")


async def test_a_value_changed_between_read_and_write_is_a_conflict_not_overwritten(
    qbo: Qbo,
) -> None:
    async with new_client() as client:
        books = qbo.connector(client)
        item = await current(books, "7")
        qbo.sandbox.faults.change_at_write = {"7": {"UnitPrice": Decimal("1.23")}}
        (result,) = (await write(books, change(1, item, "price", Decimal("50")))).values()
    assert result[:3] == ("conflict", "1.23", "1")
    assert "not overwritten" in result[3]
    assert qbo.item("7")["UnitPrice"] == Decimal("1.23")


async def test_a_stale_synctoken_is_a_conflict_reporting_the_current_token(qbo: Qbo) -> None:
    async with new_client() as client:
        books = qbo.connector(client)
        item = await current(books, "8")
        qbo.sandbox.faults.stale_at_write = {"8"}
        (result,) = (await write(books, change(1, item, "cost", Decimal("2")))).values()
    assert result[:3] == ("conflict", str(item.cost), "1")
    assert qbo.item("8")["PurchaseCost"] == item.cost and qbo.item("8")["SyncToken"] == "1"


async def test_a_timeout_after_the_write_landed_is_settled_by_reading_back(qbo: Qbo) -> None:
    qbo.sandbox.faults.hang_after_write, qbo.sandbox.faults.hang_s = 1, 1.5
    async with httpx.AsyncClient(timeout=httpx.Timeout(0.7)) as client:
        books = qbo.connector(client)
        item = await current(books, "9")
        (result,) = (await write(books, change(1, item, "quantity", 17))).values()
    assert result == ("done", "17", "1", "confirmed by reading back")
    assert len(qbo.sandbox.writes()) == 1  # landed once, never sent again


async def test_5xx_then_success_for_a_read_and_for_a_write_that_did_not_land(qbo: Qbo) -> None:
    clock = Clock()
    async with new_client() as client:
        books = qbo.connector(client, clock)
        qbo.sandbox.faults.server_errors = 2
        item = await current(books, "13")  # a read: retried after its back-off
        assert clock.slept[:2] == [0.5, 1.0]
        qbo.sandbox.faults.server_errors = 1
        (result,) = (await write(books, change(1, item, "price", Decimal("9.99")))).values()
    # The 503 came before QBO applied anything: read back (same SyncToken), sent again.
    assert result[:3] == ("done", "9.99", "1")
    assert len(qbo.sandbox.writes()) == 2 and qbo.item("13")["SyncToken"] == "1"


@pytest.mark.parametrize(("retry_after", "waited"), [("3", 3.0), (None, 60.0)])
async def test_429_then_success_with_and_without_retry_after(
    qbo: Qbo, retry_after: str | None, waited: float
) -> None:
    """QBO documents "wait 60 s" and no header [S32]: a Retry-After, when sent, is honoured."""
    clock = Clock()
    qbo.sandbox.faults.retry_after = retry_after
    async with new_client() as client:
        books = qbo.connector(client, clock)
        item = await current(books, "14")
        qbo.sandbox.faults.throttle = 1
        (result,) = (await write(books, change(1, item, "price", Decimal("4")))).values()
    assert result[0] == "done" and waited in clock.slept


# --- OAuth -----------------------------------------------------------------------------------


async def test_a_401_refreshes_the_access_token_once_and_retries(qbo: Qbo) -> None:
    async with new_client() as client:
        books = qbo.connector(client)
        item = await current(books, "15")
        qbo.sandbox.expire_access_tokens()
        (result,) = (await write(books, change(1, item, "price", Decimal("6")))).values()
    assert result[0] == "done" and qbo.sandbox.refreshes == 2
    assert len(qbo.sandbox.writes()) == 2  # the refused one (401, not applied) and the retry


async def test_a_revoked_refresh_token_is_one_clear_line_and_nothing_is_written(qbo: Qbo) -> None:
    async with new_client() as client:
        item = await current(qbo.connector(client), "16")
        qbo.sandbox.revoke_all()
        books = qbo.connector(client)
        with pytest.raises(AuthError) as raised:
            await books.write(Batch("k", (change(1, item, "price", Decimal("7")),)))
    message = str(raised.value)
    assert message.startswith("connections.books: ") and message.endswith(CHECK)
    assert "\n" not in message
    for secret in (CLIENT_ID, CLIENT_SECRET, qbo.refresh_token, *qbo.sandbox.refresh_tokens):
        assert secret not in message
    assert qbo.sandbox.writes() == []


async def test_a_rotated_refresh_token_is_kept_atomically_and_used_next_time(qbo: Qbo) -> None:
    qbo.sandbox.grace = False  # the strict reading: a rotated-out token dies at once
    path = qbo.data_dir / "tokens" / "books.json"
    async with new_client() as client:
        await current(qbo.connector(client), "1")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        kept = json.loads(path.read_text())["refresh_token"]
        assert kept != qbo.refresh_token and qbo.sandbox.refresh_tokens[kept]
        assert not qbo.sandbox.refresh_tokens[qbo.refresh_token]
        await current(qbo.connector(client), "1")  # a later run: the kept one, not the config's
        assert qbo.sandbox.refreshes == 2 and not qbo.sandbox.refresh_tokens[kept]
    assert [p.name for p in path.parent.iterdir()] == ["books.json"]
    text = "".join(str(p.read_bytes()) for p in qbo.data_dir.rglob("*") if p.is_file())
    assert CLIENT_SECRET not in text and "AT-" not in text  # no access token on disk


async def test_a_failed_save_of_the_rotated_token_keeps_the_old_one_working(
    qbo: Qbo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash or a full disk between getting the new token and keeping it: the old file is
    intact, nothing was sent with the new token, and the old token still refreshes (Intuit's
    grace period: the old token lives until the new one is used)."""
    real_replace = os.replace

    def full_disk(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    async with new_client() as client:
        with pytest.raises(AuthError, match="could not keep the rotated refresh token") as raised:
            await current(qbo.connector(client), "1")
        assert not any(t in str(raised.value) for t in qbo.sandbox.refresh_tokens)
        assert [m for m, _, _ in qbo.sandbox.requests] == []  # nothing sent with it
        tokens = qbo.data_dir / "tokens"
        assert list(tokens.iterdir()) == []  # no half-written file left behind
        monkeypatch.setattr(os, "replace", real_replace)
        assert (await current(qbo.connector(client), "1")).id == "1"


# --- validation ------------------------------------------------------------------------------


async def test_the_server_refuses_what_finance_xsd_does_not_allow(qbo: Qbo) -> None:
    async with new_client() as client:
        books = qbo.connector(client)
        await current(books, "1")
        headers = {"Authorization": f"Bearer {books.auth.current}"}
        base = f"{qbo.url}/v3/company/{REALM}"
        bad = await client.post(
            f"{base}/item",
            content=b'{"Id":"1","SyncToken":"0","sparse":true,"UnitPrice":"19.99","Colour":1}',
            headers=headers,
        )
        query = await client.get(f"{base}/query", params={"query": "SELECT * FROM Item ORDER BY x"})
    assert bad.status_code == 400 and bad.json()["Fault"]["Error"][0]["code"] == "2010"
    assert sorted(qbo.sandbox.validation_errors) == [
        "Item.Colour: no such element in Finance.xsd",
        "Item.UnitPrice: expected a number, got '19.99'",
    ]
    qbo.sandbox.validation_errors.clear()  # sent on purpose: the fixture would fail the test
    assert query.status_code == 401  # no token; with one, a parser error:
    async with new_client() as client:
        books = qbo.connector(client)
        with pytest.raises(ConnectorError, match="QueryParserError"):
            await books._query("SELECT * FROM Item ORDER BY x", "item")


async def test_an_item_update_has_no_note_to_tag_our_writes_with(qbo: Qbo) -> None:
    """Why quickbooks.py writes no run id: PrivateNote belongs to transactions (an
    InventoryAdjustment has one), not to the Item whose QtyOnHand and prices we update."""
    async with new_client() as client:
        books = qbo.connector(client)
        await current(books, "1")
        headers = {"Authorization": f"Bearer {books.auth.current}"}
        tagged = await client.post(
            f"{qbo.url}/v3/company/{REALM}/item",
            content=b'{"Id":"1","SyncToken":"0","sparse":true,"UnitPrice":19.99,'
            b'"PrivateNote":"tui-sync r-20261202-0001"}',
            headers=headers,
        )
    assert tagged.status_code == 400 and tagged.json()["Fault"]["Error"][0]["code"] == "2010"
    assert qbo.sandbox.validation_errors == ["Item.PrivateNote: no such element in Finance.xsd"]
    qbo.sandbox.validation_errors.clear()  # sent on purpose: the fixture would fail the test


async def test_a_malformed_body_is_a_clear_error(qbo: Qbo) -> None:
    qbo.sandbox.faults.malformed = 1
    async with new_client() as client:
        with pytest.raises(ConnectorError) as raised:
            await read_all(qbo.connector(client))
    # The groups and the items are asked for at once: whichever answer came first was cut.
    assert str(raised.value) in {
        f"connections.books: the answer to the {what} query is not QBO's JSON (cut or "
        "garbled); nothing was changed, try again"
        for what in ("group item", "item")
    }
