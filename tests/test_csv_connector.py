"""The `csv` connector: reads with a columns mapping, pending orders, and atomic rewrites that
change only the written cells, through the connector and through the real console script."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import unicodedata
from decimal import Decimal
from pathlib import Path

import pytest

from tests.cli_helpers import SCRIPT
from tui_sync.config import Connection
from tui_sync.connectors import capabilities, csvfile
from tui_sync.connectors.base import ConnectorError
from tui_sync.connectors.csvfile import CsvConnector
from tui_sync.model import Batch, Change, Field, Item, Side
from tui_sync.money import Number

BOM = "\ufeff"


def connection(path: Path, **settings: object) -> Connection:
    return Connection("pos", "csv", {"path": path, **settings})


def read(conn: Connection, side: Side = "backoffice") -> list[Item]:
    async def go() -> list[Item]:
        connector = CsvConnector(conn, side)
        return [item async for page in connector.read_items() for item in page]

    return asyncio.run(go())


def write(
    conn: Connection, *changes: Change, side: Side = "backoffice", state: Path | None = None
) -> dict[int, tuple[str, str | None, Number | None]]:
    results = asyncio.run(CsvConnector(conn, side, state).write(Batch("k-1", changes)))
    return {r.change_id: (r.outcome, r.reason, r.value) for r in results}


def change(
    n: int, item: Item, field: Field, after: Number | None, before: Number | None = None
) -> Change:
    now = item.value(field) if before is None else before
    return Change(item.sku or "", "backoffice", item.id, field, now, after, item.version, id=n)


def error(conn: Connection) -> str:
    with pytest.raises(ConnectorError) as caught:
        read(conn)
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# --- reading ---------------------------------------------------------------------------------

ITEMS = (
    BOM + "Item Code,Title,QOH,Price,Cost,Parent,Opts,Aisle\r\n"
    "TEE,T-shirt,,,,,,A\r\n"
    'TEE-M,"T-shirt, M",4,19.90,8.5,TEE,Size=M;Color=Red,A\r\n'
    'TEE-L,"T-shirt\nlarge",0,19.90,8.5,TEE,Size=L; ;Color=Blue;=odd;noequals,A\r\n'
    "DUP,First,1,1.00,,,,B\r\n"
    "DUP,Second,2,2.00,,,,B\r\n"
    "DUP#2,Real SKU with a hash,3,3.00,,,,B\r\n"
    ",No SKU,1,1.00,,,,C\r\n"
    ",,,,,,,\r\n"
    "\r\n"
    "EMPTY,,,,,,,\r\n"
)
MAPPING = {
    "sku": "Item Code",
    "name": "Title",
    "quantity": "QOH",
    "parent_sku": "Parent",
    "options": "Opts",
}


def test_full_read_with_mapping_bases_variants_duplicates_and_bom(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "pos.csv"
    path.write_text(ITEMS, encoding="utf-8", newline="")
    monkeypatch.setattr(csvfile, "PAGE", 2)  # several pages
    calls: list[tuple[int, int | None]] = []
    connector = CsvConnector(connection(path, columns=MAPPING), "backoffice")

    async def go() -> list[list[Item]]:
        return [page async for page in connector.read_items(None, lambda *a: calls.append(a))]

    pages = asyncio.run(go())
    assert [len(p) for p in pages] == [2, 2, 2, 2]
    items = {item.id: item for page in pages for item in page}
    assert list(items) == ["TEE", "TEE-M", "TEE-L", "DUP", "DUP#3", "DUP#2", "#line9", "EMPTY"]
    assert calls[-1] == (8, 8)
    tee, medium, large = items["TEE"], items["TEE-M"], items["TEE-L"]
    assert tee.is_base and tee.parent_id is None and tee.quantity is None and tee.price is None
    assert not medium.is_base and medium.parent_id == "TEE" and large.parent_id == "TEE"
    assert medium.name == "T-shirt, M" and large.name == "T-shirt\nlarge"
    assert medium.options == (("Size", "M"), ("Color", "Red"))
    assert large.options == (("Size", "L"), ("Color", "Blue"), ("", "odd"), ("noequals", ""))
    assert (medium.quantity, medium.price, medium.cost) == (4, Decimal("19.90"), Decimal("8.5"))
    assert isinstance(medium.quantity, int) and str(medium.price) == "19.90"
    # Duplicates keep every row under the same SKU (the grid shows them as duplicates); the
    # repeat's id never takes a SKU the file already has.
    assert [items[i].sku for i in ("DUP", "DUP#3", "DUP#2")] == ["DUP", "DUP", "DUP#2"]
    assert items["DUP#3"].name == "Second"
    assert items["#line9"].sku is None and items["#line9"].name == "No SKU"
    empty = items["EMPTY"]
    assert (empty.name, empty.quantity, empty.price, empty.cost, empty.brand) == ("", *[None] * 4)
    assert empty.options == () and not empty.is_base
    assert len({item.version for item in items.values()}) == 1  # the file's fingerprint

    caps = capabilities(connection(path, columns=MAPPING), "backoffice")
    assert caps.writable == frozenset() and not caps.has_brand and caps.has_cost
    assert caps.money_places == 2 and not caps.fractional_quantity and not caps.incremental


def test_capabilities_follow_the_file(tmp_path: Path) -> None:
    path = tmp_path / "pos.csv"
    path.write_text("sku,quantity,price,cost,brand\nA,2.5,19.9,1.2345,X\n")
    store = capabilities(connection(path, writable=True), "store")
    assert store.writable == {"quantity", "price", "cost"} and store.has_brand
    assert store.money_places == 4 and store.fractional_quantity
    assert (
        not store.negative_quantity
        and capabilities(connection(path), "backoffice").writable == set()
    )
    path.write_text("sku,quantity\nA,2\n")
    books = capabilities(connection(path, writable=True), "backoffice")
    assert books.writable == {"quantity"} and books.money_places == 2
    assert books.negative_quantity and not books.fractional_quantity and not books.has_cost


def test_bad_number_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "stock.csv"
    path.write_text('SKU,QOH\nA,1\n"B\nwith a line break",2\nC,"12,5"\n')
    assert error(connection(path, columns={"quantity": "QOH"})) == (
        f"{path} line 5, column QOH: '12,5' is not a number"
    )
    path.write_text("SKU,price\nA,1e400\n")
    assert error(connection(path)) == f"{path} line 2, column price: '1e400' is not a number"


def test_file_and_header_errors_are_one_line_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "stock.csv"
    path.write_text("Code,QOH\nA,1\n")
    assert error(connection(path, columns={"sku": "Code", "cost": "Unit Cost"})) == (
        f"{path}: no column 'Unit Cost' (columns.cost) in the header"
    )
    assert error(connection(path)) == f"{path}: no column 'sku' in the header"
    path.write_text("sku,QOH,QOH\nA,1,2\n")
    assert error(connection(path, columns={"quantity": "QOH"})) == (
        f"{path}: the header 'QOH' appears 2 times"
    )
    path.write_bytes(b"sku,name\nA,caf\xe9\n")  # Latin-1, not UTF-8
    assert error(connection(path)) == f"{path}: not UTF-8 text"
    assert error(connection(tmp_path / "gone.csv")) == f"{tmp_path / 'gone.csv'}: no such file"
    assert error(connection(tmp_path)) == f"{tmp_path}: is a directory, not a CSV file"
    if os.geteuid() != 0:  # root reads whatever the mode says
        path.write_text("sku\nA\n")
        path.chmod(0)
        assert error(connection(path)) == f"{path}: permission denied"


# --- pending orders --------------------------------------------------------------------------

ORDERS = (
    "Order_ID,SKU,Quantity,Status\n"
    "100,A,2,Awaiting Fulfillment\n"
    "101,A,1,pending\n"
    "102,B,3,\n"
    "103,A,5,Cancelled\n"
    "104,A,5,refunded\n"
    "105,A,5,DECLINED\n"
    "106,A,5,Shipped\n"
    "107,A,5,completed\n"
)


def test_pending_orders_and_the_statuses_that_never_count(tmp_path: Path) -> None:
    (tmp_path / "items.csv").write_text("sku\nA\nB\n")
    orders = tmp_path / "orders.csv"
    orders.write_text(ORDERS)
    conn = connection(tmp_path / "items.csv", orders=orders)
    store = CsvConnector(conn, "store")
    lines = asyncio.run(store.read_pending())
    assert [(line.order_id, line.sku, line.quantity) for line in lines] == [
        ("100", "A", 2),
        ("101", "A", 1),
        ("102", "B", 3),
    ]
    only = CsvConnector(conn, "store", pending_statuses=("awaiting fulfillment",))
    assert [line.order_id for line in asyncio.run(only.read_pending())] == ["100"]
    books = CsvConnector(conn, "backoffice")
    assert asyncio.run(books.posted_orders(["100", "101"])) == set()  # a CSV cannot tell
    assert asyncio.run(CsvConnector(connection(orders), "store").read_pending()) == []
    orders.write_text("order_id,sku,quantity,status\n1,A,two,pending\n")
    with pytest.raises(ConnectorError, match=r"orders.csv line 2, column quantity: 'two' is not"):
        asyncio.run(store.read_pending())


# --- writing through the connector -----------------------------------------------------------

BOOKS = "sku,name,quantity,price,cost\r\nA,Shirt,5,19.90,8.00\r\nB,Pants,2,29.00,12.00\r\n"


@pytest.fixture
def books(tmp_path: Path) -> Path:
    path = tmp_path / "books.csv"
    path.write_text(BOOKS, newline="")
    return path


def test_a_failure_mid_write_leaves_the_old_file(
    books: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = connection(books, writable=True)
    a = read(conn)[0]

    def broken(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    results = write(conn, change(1, a, "quantity", 9))
    assert results[1][0] == "rejected"
    assert (
        results[1][1]
        == f"{books}: could not rewrite (No space left on device); the file is unchanged"
    )
    assert books.read_bytes().decode() == BOOKS and leftovers(books.parent) == []


def test_the_file_changed_since_it_was_read_is_a_conflict(books: Path) -> None:
    conn = connection(books, writable=True)
    a, b = read(conn)
    changed = BOOKS + "C,New,1,1.00,1.00\r\n"  # the POS exported again; A and B are the same
    books.write_text(changed, newline="")
    results = write(conn, change(1, a, "quantity", 9), change(2, b, "price", Decimal("30.00")))
    assert [r[0] for r in results.values()] == ["conflict", "conflict"]
    assert results[1][1] == f"{books}: the file changed since it was read; refresh first"
    assert results[1][2] == 5  # what the file holds now, for the grid
    assert books.read_bytes().decode() == changed and leftovers(books.parent) == []


def test_a_cell_changed_since_read_is_a_conflict_and_a_repeat_is_done(
    books: Path, tmp_path: Path
) -> None:
    conn = connection(books, writable=True)
    a, b = read(conn)
    moved = change(2, b, "quantity", 7, before=1)  # read as 1, the file says 2
    first = write(conn, change(1, a, "price", Decimal("21.50")), moved, state=tmp_path)
    assert first[1] == ("done", None, Decimal("21.50"))
    assert first[2] == ("conflict", "quantity is 2 now, was 1 when read", 2)
    after = books.read_bytes().decode()
    assert after == BOOKS.replace("19.90", "21.50")
    # The same batch again (a retry after a lost answer) applies nothing twice.
    again = write(conn, change(1, a, "price", Decimal("21.50")), state=tmp_path)
    assert again[1][0] == "done" and books.read_bytes().decode() == after
    # A later write of an item read before our own rewrite needs no refresh in between.
    later = write(conn, change(3, b, "cost", Decimal("12.50")), state=tmp_path)
    assert later[3][0] == "done", later
    assert books.read_bytes().decode() == after.replace("12.00", "12.50")


def test_values_the_file_cannot_hold_are_rejected(books: Path) -> None:
    conn = connection(books, writable=True)
    a, b = read(conn)
    results = write(
        conn,
        change(1, a, "quantity", Decimal("2.5")),
        change(2, a, "price", Decimal("19.999")),
        change(3, b, "cost", Decimal("-1")),
        change(4, b, "quantity", -3),
        side="store",
    )
    assert {n: r[0] for n, r in results.items()} == dict.fromkeys(range(1, 5), "rejected")
    assert "fractional: the file keeps whole quantities" in (results[1][1] or "")
    assert "more than the file's 2 decimals" in (results[2][1] or "")
    assert "negative: a store file keeps no negative stock" in (results[4][1] or "")
    assert books.read_bytes().decode() == BOOKS
    assert write(conn, change(5, b, "quantity", -3))[5][0] == "done"  # books may go negative
    not_writable = write(connection(books), change(6, a, "quantity", 1))
    assert not_writable[6][:2] == ("rejected", f"{books} is not writable (set writable = true)")


# --- end to end through the console script ---------------------------------------------------

STORE = (
    "sku,name,quantity,price,cost\n"
    "A1,Shirt,5,19.90,7.25\nA2,Pants,3,29.00,12.00\nS9,Store only,1,1.00,\nD1,Dup,9,1.00,\n"
)
# The back office as a POS exports it: BOM, semicolons, CRLF, quoted cells, columns of its own
# before and after ours, a row we do not own, a duplicate, a row without the last cells.
POS = (
    BOM + 'Aisle;Item Code;Desc;Qty;"Unit Price";Cost;Notes\r\n'
    '"1";A1;"Shirt; blue";7;"18.90";8.00;"say ""hi"""\r\n'
    "2;A2;Pants;3;29.00;12.00;\r\n"
    "3;B7;Only here;1;1.00;;multi\r\n"
    "4;D1;Dup;1;1.00;1.00;x\r\n"
    "5;D1;Dup;2;1.00;1.00;y\r\n"
)


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SCRIPT, "--config", str(home / "config.toml"), "--data-dir", str(home / "data"), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def make_home(tmp_path: Path, writable: bool = True) -> Path:
    (tmp_path / "store.csv").write_text(STORE)
    (tmp_path / "pos.csv").write_text(POS, encoding="utf-8", newline="")
    (tmp_path / "config.toml").write_text(
        '[connections.shop]\nkind = "csv"\npath = "store.csv"\n'
        '[connections.pos]\nkind = "csv"\npath = "pos.csv"\n'
        'columns = { sku = "Item Code", name = "Desc", quantity = "Qty", price = "Unit Price" }\n'
        f"writable = {'true' if writable else 'false'}\n"
        '[pairs.main]\nstore = "shop"\nbackoffice = "pos"\nmaster = "store"\n'
    )
    return tmp_path


def cells(path: Path) -> list[list[str]]:
    return list(
        csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline=""), delimiter=";")
    )


def test_sync_to_a_csv_back_office_writes_three_fields_and_keeps_the_rest(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    before, before_lines = cells(home / "pos.csv"), (home / "pos.csv").read_bytes().split(b"\r\n")
    assert cli(home, "refresh").returncode == 0
    rows = {r["sku"]: r for r in json.loads(cli(home, "diff", "--json").stdout)}
    assert rows["A1"]["status"] == "out_of_sync" and rows["D1"]["status"] == "duplicate_sku"
    out = cli(
        home, "sync", "--to", "backoffice", "--fields", "quantity,price,cost", "--all", "--yes"
    )
    assert out.returncode == 0, out.stderr
    assert "3 done, 0 conflict(s), 0 failed" in out.stdout
    after = cells(home / "pos.csv")
    changed = {
        (r, c)
        for r, (old, new) in enumerate(zip(before, after, strict=True))
        for c in range(max(len(old), len(new)))
        if old[c : c + 1] != new[c : c + 1]
    }
    assert changed == {(1, 3), (1, 4), (1, 5)}  # A1's Qty, Unit Price and Cost; nothing else
    assert after[1][3:6] == ["5", "19.90", "7.25"]
    raw = (home / "pos.csv").read_bytes()
    assert raw.startswith(BOM.encode()) and raw.count(b"\r\n") == len(before)
    lines = raw.split(b"\r\n")
    assert lines[1] == b'"1";A1;"Shirt; blue";5;"19.90";7.25;"say ""hi"""'
    assert lines[0] == before_lines[0] and lines[2:] == before_lines[2:]  # byte for byte
    assert leftovers(home) == []
    rows = {r["sku"]: r for r in json.loads(cli(home, "diff", "--json").stdout)}
    assert rows["A1"]["status"] == "in_sync"
    # Undo writes the old values back: the file is again the one the POS exported.
    run_id = json.loads(cli(home, "log", "--json").stdout)[0]["run_id"]
    out = cli(home, "undo", run_id, "--yes")
    assert out.returncode == 0, out.stdout + out.stderr
    assert (home / "pos.csv").read_bytes().decode() == POS


def test_not_writable_the_plan_refuses_and_nothing_is_written(tmp_path: Path) -> None:
    home = make_home(tmp_path, writable=False)
    assert cli(home, "refresh").returncode == 0
    out = cli(home, "sync", "--to", "backoffice", "--fields", "quantity,price", "--all", "--yes")
    assert out.returncode == 0, out.stderr
    assert "the back office cannot write quantity" in out.stdout
    assert "nothing to write" in out.stdout
    assert (home / "pos.csv").read_bytes().decode() == POS
    out = cli(home, "sync", "--to", "store", "--fields", "quantity", "--sku", "A1", "--yes")
    assert "the store cannot write quantity" in out.stdout
    assert (home / "store.csv").read_text() == STORE


def test_a_hostile_csv_reads_and_reaches_the_cli_inert(tmp_path: Path) -> None:
    hostile = [
        "\x1b]0;pwned\x07",
        "\x1b]52;c;aGVsbG8=\x07",
        "\x9b31m",
        "\u202eevil",
        "[bold]x[/]",
        "a\x00b",
    ]
    body = "".join(f'H{i},"{name}",1,1.00\n' for i, name in enumerate(hostile))
    (tmp_path / "store.csv").write_text("sku,name,quantity,price\n" + body)
    (tmp_path / "pos.csv").write_text(
        "sku,name,quantity,price,options\n"
        + "".join(f'H{i},"x",2,1.00,"Size={n};{n}=v"\n' for i, n in enumerate(hostile))
        + '"\x1b[2J\u202e",evil sku,1,1.00,\n'
    )
    (tmp_path / "config.toml").write_text(
        '[connections.shop]\nkind = "csv"\npath = "store.csv"\n'
        '[connections.pos]\nkind = "csv"\npath = "pos.csv"\n'
        '[pairs.main]\nstore = "shop"\nbackoffice = "pos"\n'
    )
    items = read(connection(tmp_path / "store.csv"), "store")
    assert [item.name for item in items] == hostile  # read as written, never a crash
    for args in (
        ("diff",),
        ("diff", "--csv"),
        ("sync", "--to", "backoffice", "--fields", "quantity", "--all", "--dry-run"),
    ):
        out = subprocess.run(
            [
                SCRIPT,
                "--config",
                str(tmp_path / "config.toml"),
                "--data-dir",
                str(tmp_path / "d"),
                *args,
            ],
            capture_output=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr
        shown = out.stdout.decode().replace("\r\n", "\n")
        bad = [c for c in shown if unicodedata.category(c) in ("Cc", "Cf") and c != "\n"]
        assert bad == [] and b"\x1b" not in out.stdout and "\x9b".encode() not in out.stdout
        assert "H5" in shown
