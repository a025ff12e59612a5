"""`tui-sync refresh / diff / sync` through the real console script, with a config whose
`quickbooks` connection points `api_url` and `token_url` at the sandbox QBO server and takes its
secrets from the environment; the store is a CSV file with its pending orders."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.cli_helpers import SCRIPT
from tui_sync.sandbox.quickbooks_api import CLIENT_ID, CLIENT_SECRET, REALM, QboSandbox
from tui_sync.sandbox.server import serving


@pytest.fixture
def books(tmp_path: Path) -> Iterator[tuple[QboSandbox, str]]:
    sandbox = QboSandbox(tmp_path / "qbo.db")
    # The strict reading of rotation: a rotated-out refresh token dies at once, so every
    # command after the first works only if the previous one kept the new token.
    sandbox.grace = False
    with serving(sandbox.app) as url:
        yield sandbox, url
    assert sandbox.validation_errors == [], "a request broke Finance.xsd"


def home_for(tmp_path: Path, sandbox: QboSandbox, url: str) -> tuple[Path, dict[str, str]]:
    def bo(item_id: str, key: str) -> Decimal:
        item = sandbox.company.item(item_id)
        assert item is not None
        return Decimal(str(item[key]))

    rows = [
        ("W-0001", "Widget 0001", bo("1", "QtyOnHand") + 3, Decimal("11.11")),  # both differ
        ("W-0002", "Widget 0002", bo("2", "QtyOnHand"), bo("2", "UnitPrice")),  # in sync
        ("W-0003", "Widget 0003", bo("3", "QtyOnHand") - 2, bo("3", "UnitPrice")),  # in orders
        ("W-0004", "Widget 0004", bo("4", "QtyOnHand"), Decimal("44.40")),  # price differs
    ]
    store = "sku,name,quantity,price\n" + "".join(f"{s},{n},{q},{p}\n" for s, n, q, p in rows)
    (tmp_path / "store.csv").write_text(store)
    # 1001 is a SalesReceipt's DocNumber in QBO (posted); 7777 is not: it holds W-0003.
    (tmp_path / "orders.csv").write_text(
        "order_id,sku,quantity,status\n1001,W-0001,1,pending\n7777,W-0003,2,pending\n"
    )
    (tmp_path / "config.toml").write_text(
        '[connections.shop]\nkind = "csv"\npath = "store.csv"\norders = "orders.csv"\n'
        f'[connections.books]\nkind = "quickbooks"\nrealm_id = "{REALM}"\n'
        'client_id = { env = "QBO_CLIENT_ID" }\nclient_secret = { env = "QBO_CLIENT_SECRET" }\n'
        'refresh_token = { env = "QBO_REFRESH_TOKEN" }\n'
        f'api_url = "{url}"\ntoken_url = "{url}/oauth2/v1/tokens/bearer"\n'
        '[pairs.main]\nstore = "shop"\nbackoffice = "books"\nmaster = "store"\n'
    )
    env = dict(os.environ)
    env.update(
        QBO_CLIENT_ID=CLIENT_ID,
        QBO_CLIENT_SECRET=CLIENT_SECRET,
        QBO_REFRESH_TOKEN=sandbox.issue_refresh_token(),
    )
    return tmp_path, env


def cli(home: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SCRIPT, "--config", str(home / "config.toml"), "--data-dir", str(home / "data"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def grid(home: Path, env: dict[str, str]) -> dict[str, dict[str, object]]:
    out = cli(home, env, "diff", "--json")
    assert out.returncode == 0, out.stderr
    return {row["sku"]: row for row in json.loads(out.stdout)}


def test_refresh_diff_sync_to_quickbooks_through_the_cli(
    tmp_path: Path, books: tuple[QboSandbox, str]
) -> None:
    sandbox, url = books
    home, env = home_for(tmp_path, sandbox, url)
    secrets = (CLIENT_ID, CLIENT_SECRET, env["QBO_REFRESH_TOKEN"])

    out = cli(home, env, "refresh")
    assert out.returncode == 0, out.stderr
    rows = grid(home, env)
    assert rows["W-0001"]["status"] == "out_of_sync" and rows["W-0002"]["status"] == "in_sync"
    assert rows["W-0003"]["status"] == "in_orders"  # 7777 is not posted; 1001 is
    assert rows["G-01"]["status"] == "base"

    out = cli(home, env, "sync", "--to", "backoffice", "--fields", "quantity,price", "--all",
              "--yes")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "3 done, 0 conflict(s), 0 failed" in out.stdout
    one = sandbox.company.item("1")
    assert one is not None and one["UnitPrice"] == Decimal("11.11") and one["SyncToken"] == "2"
    # Version chaining: the second write of item 1 carried the SyncToken the first returned.
    assert [w["SyncToken"] for w in sandbox.writes() if w["Id"] == "1"] == ["0", "1"]
    assert {w["Id"] for w in sandbox.writes()} == {"1", "4"}  # not the in-orders W-0003

    assert cli(home, env, "refresh").returncode == 0
    before = grid(home, env)
    assert before["W-0001"]["status"] == before["W-0004"]["status"] == "in_sync"

    sandbox.faults.malformed = 1  # a cut answer: one clear line, the cache as it was
    out = cli(home, env, "refresh")
    assert out.returncode != 0
    assert "connections.books: the answer to the" in out.stderr
    assert "not QBO's JSON" in out.stderr and "Traceback" not in out.stderr
    assert grid(home, env) == before

    sandbox.revoke_all()
    out = cli(home, env, "refresh")
    assert out.returncode != 0 and "refresh token expired or revoked?" in out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("tui-sync:")]
    assert errors == [out.stderr.strip().splitlines()[-1]]  # one line (after progress lines)
    assert errors[0].startswith("tui-sync: connections.books: token refresh refused")
    cache = (home / "data" / "cache.db").read_bytes()
    for secret in (*secrets, *sandbox.refresh_tokens):
        assert secret not in out.stderr and secret not in out.stdout
        assert secret.encode() not in cache
