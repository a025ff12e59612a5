"""A pair over real HTTP: the sandbox BigCommerce and QuickBooks servers on loopback, and a
config whose connections point `api_url` (and `token_url`) at them, secrets from the
environment. For the `connections` command and the console's connection states."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tui_sync.sandbox.bigcommerce_api import BigCommerceSandbox
from tui_sync.sandbox.quickbooks_api import CLIENT_ID, CLIENT_SECRET, REALM, QboSandbox
from tui_sync.sandbox.server import RunningServer

BC_TOKEN = "bc-secret-token-5d1e8a"
STORE_HASH = "abc"


@dataclass
class HttpPair:
    store: BigCommerceSandbox
    store_url: str
    books: QboSandbox
    books_url: str
    home: Path
    refresh_token: str

    @property
    def config(self) -> Path:
        return self.home / "config.toml"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def secrets(self) -> tuple[str, ...]:
        return (BC_TOKEN, CLIENT_SECRET, self.refresh_token, *self.books.refresh_tokens)


def write_config(home: Path, store_url: str, books_url: str, extra: str = "") -> Path:
    (home / "stock.csv").write_text("sku,name,quantity,price\nW-1,Widget,3,9.99\n")
    path = home / "config.toml"
    path.write_text(
        '[connections.shop]\nkind = "bigcommerce"\n'
        f'store_hash = "{STORE_HASH}"\ntoken = {{ env = "TEST_BC_TOKEN" }}\n'
        f'api_url = "{store_url}"\n'
        f'[connections.books]\nkind = "quickbooks"\nrealm_id = "{REALM}"\n'
        'client_id = { env = "TEST_QBO_CLIENT_ID" }\n'
        'client_secret = { env = "TEST_QBO_CLIENT_SECRET" }\n'
        'refresh_token = { env = "TEST_QBO_REFRESH_TOKEN" }\n'
        f'api_url = "{books_url}"\ntoken_url = "{books_url}/oauth2/v1/tokens/bearer"\n'
        '[connections.pos]\nkind = "csv"\npath = "stock.csv"\n'
        '[pairs.main]\nstore = "shop"\nbackoffice = "books"\n' + extra
    )
    return path


@contextmanager
def http_pair(
    home: Path, monkeypatch: pytest.MonkeyPatch, products: int = 60, size: int = 60
) -> Iterator[HttpPair]:
    """Both servers running, the config written and its secrets in the environment."""
    with ExitStack() as stack:
        store = BigCommerceSandbox(
            home / "bc.db", BC_TOKEN, STORE_HASH, products=products, quota=150, adjust_delay=0
        )
        books = QboSandbox(home / "qbo.db", size=size)
        store_url = stack.enter_context(RunningServer(store.app)).url
        books_url = stack.enter_context(RunningServer(books.app)).url
        token = books.issue_refresh_token()
        monkeypatch.setenv("TEST_BC_TOKEN", BC_TOKEN)
        monkeypatch.setenv("TEST_QBO_CLIENT_ID", CLIENT_ID)
        monkeypatch.setenv("TEST_QBO_CLIENT_SECRET", CLIENT_SECRET)
        monkeypatch.setenv("TEST_QBO_REFRESH_TOKEN", token)
        write_config(home, store_url, books_url)
        yield HttpPair(store, store_url, books, books_url, home, token)
        assert store.spec_errors == [], "a request broke BigCommerce's spec"
        assert books.validation_errors == [], "a request broke Finance.xsd"
