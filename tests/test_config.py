"""The config contract of DESIGN.md sections 2 and 3, as a user meets it: messages and results."""

from __future__ import annotations

import os
import sys
import types
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tui_sync.config import (
    SANDBOX_PAIR,
    Config,
    ConfigError,
    PairConfig,
    Secret,
    default_config_path,
    default_data_dir,
    load_config,
    parse_duration,
)

# The example of DESIGN.md section 3, verbatim.
DESIGN_EXAMPLE = """
[connections.shop]
kind = "bigcommerce"
store_hash = "abc123"
token = { env = "BC_TOKEN" }            # secrets: from the environment or the OS keyring
# api_url = "http://127.0.0.1:8801"

[connections.books]
kind = "quickbooks"
realm_id = "9130"
client_id = { env = "QBO_CLIENT_ID" }
client_secret = { env = "QBO_CLIENT_SECRET" }
refresh_token = { keyring = "tui-sync/books" }

[pairs.main]
store = "shop"
backoffice = "books"
master = "backoffice"                   # which side is the master of inventory
fields = ["quantity", "price"]          # what `auto` syncs
price_tolerance = "0.005"
schedule = "30m"                        # 15m .. 24h
"""

SHOP = '[connections.shop]\nkind = "bigcommerce"\nstore_hash = "abc123"\n'
BOOKS = '[connections.books]\nkind = "csv"\npath = "books.csv"\n'
MAIN = '[pairs.main]\nstore = "shop"\nbackoffice = "books"\n'
POSIX_ONLY = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


# Every variable the configs below name; a missing one is an error at load (tested below).
ENV_SECRETS = [
    "A",
    "B",
    "BC_TOKEN",
    "C",
    "ID",
    "K",
    "QBO_CLIENT_ID",
    "QBO_CLIENT_SECRET",
    "REFRESH",
    "S",
    "SECRET",
    "SQ_TOKEN",
    "T",
    "VAR",
    "WC_KEY",
    "WC_SECRET",
    "X",
]


@pytest.fixture(autouse=True)
def env_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_SECRETS:
        monkeypatch.setenv(name, f"value-of-{name.lower()}")


def write(tmp_path: Path, text: str, mode: int = 0o644) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    path.chmod(mode)
    return path


def error(tmp_path: Path, text: str, mode: int = 0o644) -> str:
    """The one-line message a user sees for this config file."""
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text, mode))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{tmp_path / 'config.toml'}: ")
    return message.removeprefix(f"{tmp_path / 'config.toml'}: ")


def valid(body: str) -> str:
    """A config with a working shop, books and main pair, plus `body`."""
    return SHOP + 'token = { env = "BC_TOKEN" }\n' + BOOKS + MAIN + body


# -- a valid file ----------------------------------------------------------------------------


def test_design_example_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BC_TOKEN", "bc-secret-value")
    monkeypatch.setenv("QBO_CLIENT_ID", "qbo-id")
    monkeypatch.setenv("QBO_CLIENT_SECRET", "qbo-secret")
    path = write(tmp_path, DESIGN_EXAMPLE)
    config = load_config(path)

    assert config.path == path
    assert set(config.connections) == {"shop", "books"}
    shop = config.connections["shop"]
    assert (shop.kind, shop.settings["store_hash"]) == ("bigcommerce", "abc123")
    token = shop.settings["token"]
    assert token == Secret("env", "BC_TOKEN")
    assert isinstance(token, Secret) and token.reveal() == "bc-secret-value"
    books = config.connections["books"].settings
    assert books["refresh_token"] == Secret("keyring", "tui-sync/books")

    pair = config.pair(None)
    assert pair == config.pair("main") == config.pairs["main"]
    assert (pair.store, pair.backoffice) == (shop, config.connections["books"])
    assert pair.master == "backoffice"
    assert pair.fields == ("quantity", "price")
    assert pair.price_tolerance == Decimal("0.005")
    assert pair.schedule == timedelta(minutes=30)
    assert pair.pending_statuses is None
    assert config.pair("sandbox") is SANDBOX_PAIR


def test_every_kind_with_every_key(tmp_path: Path) -> None:
    text = """
[connections.bc]
kind = "bigcommerce"
store_hash = "abc123"
token = { env = "BC_TOKEN" }
location_id = 2
api_url = "http://127.0.0.1:8801"
[connections.shopify]
kind = "shopify"
shop = "acme.myshopify.com"
access_token = { keyring = "tui-sync/shopify" }
location = "gid://shopify/Location/1"
api_version = "2025-01"
api_url = "https://proxy.example.com"
[connections.woo]
kind = "woocommerce"
url = "https://shop.example.com"
consumer_key = { env = "WC_KEY" }
consumer_secret = { env = "WC_SECRET" }
api_url = "http://localhost:8802"
[connections.qbo]
kind = "quickbooks"
realm_id = 9130
client_id = { env = "ID" }
client_secret = { env = "SECRET" }
refresh_token = { env = "REFRESH" }
environment = "sandbox"
api_url = "http://[::1]:8803"
token_url = "http://127.0.0.2:8804/oauth2/v1/tokens/bearer"
[connections.square]
kind = "square"
access_token = { env = "SQ_TOKEN" }
location_id = "L1"
api_url = "https://connect.squareupsandbox.com"
[connections.pos]
kind = "csv"
path = "exports/items.csv"
columns = { sku = "Item Code", quantity = "QOH" }
orders = "/srv/pos/orders.csv"
writable = true
[connections.play]
kind = "sandbox"
side = "store"
[pairs.a]
store = "bc"
backoffice = "qbo"
master = "store"
fields = ["cost", "quantity"]
price_tolerance = 0.01
schedule = "1h30m"
pending_statuses = ["Pending", "Awaiting Fulfillment"]
[pairs.b]
store = "play"
backoffice = "pos"
price_tolerance = 0
"""
    config = load_config(write(tmp_path, text))
    settings = {name: conn.settings for name, conn in config.connections.items()}
    assert settings["bc"]["location_id"] == "2"
    assert settings["qbo"]["realm_id"] == "9130"
    assert settings["pos"]["path"] == tmp_path / "exports" / "items.csv"
    assert settings["pos"]["orders"] == Path("/srv/pos/orders.csv")
    assert settings["pos"]["columns"] == {"sku": "Item Code", "quantity": "QOH"}
    assert settings["pos"]["writable"] is True
    a, b = config.pair("a"), config.pair("b")
    assert (a.master, a.fields) == ("store", ("cost", "quantity"))
    assert a.price_tolerance == Decimal("0.01")
    assert a.schedule == timedelta(hours=1, minutes=30)
    assert a.pending_statuses == ("Pending", "Awaiting Fulfillment")
    assert b.price_tolerance == Decimal("0")
    assert b.store.kind == "bigcommerce"  # the sandbox's store, served on loopback


# -- errors: one line, naming the key --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("colour = 1\n", "unknown key colour"),
        (
            SHOP + 'tokn = { env = "X" }\n',
            "unknown key connections.shop.tokn (did you mean token?)",
        ),
        (
            SHOP + 'token = { env = "X", vault = "Y" }\n',
            'connections.shop.token: expected { env = "VAR" } or { keyring = "service/name" }',
        ),
        (
            SHOP,
            "connections.shop.token: missing (a bigcommerce connection needs store_hash, token)",
        ),
        (
            '[connections.shop]\nstore_hash = "a"\n',
            "connections.shop.kind: missing (one of bigcommerce, shopify, woocommerce, quickbooks, "
            "square, csv, sandbox)",
        ),
        ('[connections.shop]\nkind = "magento"\n', "connections.shop.kind: unknown kind 'magento'"),
        ("connections = 3\n", "connections: expected a table"),
        ('[connections.x]\nkind = "sandbox"\nside = "left"\n', "connections.x.side: expected one"),
        (
            SHOP.replace('"abc123"', "true") + 'token = { env = "T" }\n',
            "connections.shop.store_hash: expected a non-empty string",
        ),
        (
            SHOP + 'token = { keyring = "no-slash" }\n',
            'connections.shop.token.keyring: expected "service/name"',
        ),
        (
            '[connections.s]\nkind = "shopify"\nshop = "acme.com"\naccess_token = { env = "A" }\n'
            'location = "Main"\n',
            "connections.s.shop: expected name.myshopify.com, got 'acme.com'",
        ),
        (
            '[connections.q]\nkind = "quickbooks"\nrealm_id = "1"\nclient_id = { env = "A" }\n'
            'client_secret = { env = "B" }\nrefresh_token = { env = "C" }\nenvironment = "prod"\n',
            "connections.q.environment: expected one of production, sandbox, got 'prod'",
        ),
        (
            '[connections.c]\nkind = "csv"\npath = "a.csv"\ncolumns = { qty = "QOH" }\n',
            "unknown key connections.c.columns.qty",
        ),
        (
            '[connections.c]\nkind = "csv"\npath = "a.csv"\n'
            'columns = { sku = "Code", parent_sku = "Code" }\n',
            "connections.c.columns.parent_sku: header 'Code' is already connections.c.columns.sku",
        ),
        (
            '[connections.c]\nkind = "csv"\npath = "a.csv"\nwritable = "yes"\n',
            "connections.c.writable: expected true or false",
        ),
        (valid('colour = "red"\n'), "unknown key pairs.main.colour"),
        ('[connections."a\\nb"]\nkind = "sandbox"\nx = 1\n', "unknown key connections.a b.x"),
        (valid('master = "shop"\n'), "pairs.main.master: expected one of store, backoffice"),
        (valid('fields = "quantity"\n'), "pairs.main.fields: expected a list of strings"),
        (valid("fields = []\n"), "pairs.main.fields: empty (choose from quantity, price, cost)"),
        (valid('fields = ["qty"]\n'), "pairs.main.fields: unknown field 'qty' (choose from"),
        (valid('price_tolerance = "-1"\n'), "pairs.main.price_tolerance: expected a decimal >= 0"),
        (
            valid('price_tolerance = "cheap"\n'),
            'pairs.main.price_tolerance: expected a decimal such as "0.005"',
        ),
        (
            valid("price_tolerance = true\n"),
            'pairs.main.price_tolerance: expected a decimal such as "0.005"',
        ),
        (valid('schedule = "5m"\n'), "pairs.main.schedule: '5m' is out of range 15m..24h"),
        (valid('schedule = "2d"\n'), "pairs.main.schedule: '2d' is out of range 15m..24h"),
        (valid('schedule = "soon"\n'), "pairs.main.schedule: 'soon': expected a number and a unit"),
        (valid("schedule = 30\n"), "pairs.main.schedule: expected a non-empty string"),
        (valid("pending_statuses = [1]\n"), "pairs.main.pending_statuses: expected a list of str"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    assert error(tmp_path, text).startswith(expected)


def test_pair_naming_a_missing_connection(tmp_path: Path) -> None:
    text = SHOP + 'token = { env = "T" }\n' + BOOKS + MAIN.replace('"books"', '"ledger"')
    assert error(tmp_path, text) == (
        "pairs.main.backoffice: no connection named 'ledger' (known: shop, books)"
    )
    assert error(tmp_path, '[pairs.main]\nbackoffice = "books"\n') == (
        "pairs.main.store: missing (the name of a connection)"
    )
    text = SHOP + 'token = { env = "T" }\n[pairs.main]\nstore = "shop"\nbackoffice = "shop"\n'
    assert error(tmp_path, text) == "pairs.main.backoffice: the same connection as the store"
    text = (
        '[connections.play]\nkind = "sandbox"\nside = "backoffice"\n'
        + BOOKS
        + MAIN.replace('"shop"', '"play"')
    )
    assert (
        error(tmp_path, text)
        == "pairs.main.store: connection 'play' is the sandbox's backoffice side"
    )


def test_not_toml_gives_the_line(tmp_path: Path) -> None:
    message = error(tmp_path, '[connections.shop]\nkind = "bigcommerce"\nstore_hash = \n')
    assert message.startswith("not valid TOML:")
    assert "line 3" in message


def test_missing_file_is_the_sandbox_only(tmp_path: Path) -> None:
    config = load_config(tmp_path / "nowhere.toml")
    assert config == Config(None, {}, {})
    assert config.pair(None) is SANDBOX_PAIR
    assert config.pair("sandbox") is SANDBOX_PAIR
    # A BigCommerce store and a QuickBooks company on loopback, with sandbox-only secrets.
    assert (SANDBOX_PAIR.store.kind, SANDBOX_PAIR.backoffice.kind) == ("bigcommerce", "quickbooks")
    for connection in (SANDBOX_PAIR.store, SANDBOX_PAIR.backoffice):
        assert str(connection.settings["api_url"]).startswith("http://127.0.0.1:")
        secrets = [v for v in connection.settings.values() if isinstance(v, Secret)]
        assert secrets and all(s.reveal().startswith("sandbox-") for s in secrets)
    assert (SANDBOX_PAIR.master, SANDBOX_PAIR.fields) == ("backoffice", ("quantity", "price"))


# -- secrets never shown ---------------------------------------------------------------------


@POSIX_ONLY
def test_inline_secret_needs_mode_600(tmp_path: Path) -> None:
    text = SHOP + 'token = "sk-live-9f8e7d"\n'
    message = error(tmp_path, text, mode=0o644)
    assert message == (
        "connections.shop.token: a secret inline in a file others can read; "
        'use { env = "VAR" } or chmod 600'
    )
    assert "sk-live-9f8e7d" not in message
    assert "9f8e7d" not in error(tmp_path, text, mode=0o640)

    config = load_config(write(tmp_path, text, mode=0o600))
    token = config.connections["shop"].settings["token"]
    assert isinstance(token, Secret) and token.reveal() == "sk-live-9f8e7d"
    assert "9f8e7d" not in repr(config) and "9f8e7d" not in str(config)
    assert repr(token) == str(token) == "Secret(inline:***)"


@POSIX_ONLY
def test_secret_never_in_an_error_message(tmp_path: Path) -> None:
    # A secret under a misspelt key, or of a wrong shape, is reported by key only.
    for text in (
        SHOP + 'token = "sk-live-9f8e7d"\ncolour = "x"\n',
        SHOP + 'token = ["sk-live-9f8e7d"]\n',
        SHOP + 'token = { env = "T", value = "sk-live-9f8e7d" }\n',
        SHOP + 'token = { value = "sk-live-9f8e7d" }\n',
    ):
        assert "9f8e7d" not in error(tmp_path, text, mode=0o600)


def test_secret_repr_shows_the_reference_only() -> None:
    assert repr(Secret("env", "BC_TOKEN")) == "Secret(env:BC_TOKEN)"
    assert repr(Secret("keyring", "tui-sync/books")) == "Secret(keyring:tui-sync/books)"
    assert f"{Secret('inline', 'hunter2')}" == "Secret(inline:***)"


def test_env_secret_missing_is_an_error_at_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DESIGN.md section 3: a missing secret is an error at load, naming the key and variable.
    monkeypatch.delenv("BC_TOKEN", raising=False)
    assert error(tmp_path, valid("")) == (
        "connections.shop.token: environment variable BC_TOKEN is not set"
    )
    monkeypatch.setenv("BC_TOKEN", "")  # set but empty is no secret either
    assert "BC_TOKEN is not set" in error(tmp_path, valid(""))
    monkeypatch.setenv("BC_TOKEN", "bc-value")
    token = load_config(write(tmp_path, valid(""))).connections["shop"].settings["token"]
    assert isinstance(token, Secret) and token.reveal() == "bc-value"
    monkeypatch.delenv("BC_TOKEN")  # gone between load and use: still one clear line
    with pytest.raises(ConfigError, match=r"^connections\.shop\.token: environment variable BC_"):
        token.reveal()


def test_keyring_secret_without_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "keyring", None)  # import keyring -> ImportError
    with pytest.raises(ConfigError) as caught:
        Secret("keyring", "tui-sync/books", "connections.books.refresh_token").reveal()
    assert str(caught.value) == (
        "connections.books.refresh_token: keyring secret: the 'keyring' package is not installed"
    )


# -- URLs ------------------------------------------------------------------------------------


def with_api_url(url: str) -> str:
    return SHOP + f'token = {{ env = "T" }}\napi_url = "{url}"\n' + BOOKS + MAIN


@pytest.mark.parametrize(
    "url",
    [
        "https://api.bigcommerce.com",
        "http://127.0.0.1:8801",
        "http://127.8.0.1",
        "http://localhost:8801/x",
        "http://[::1]:8801",
    ],
)
def test_https_or_loopback_http_accepted(tmp_path: Path, url: str) -> None:
    config = load_config(write(tmp_path, with_api_url(url)))
    assert config.connections["shop"].settings["api_url"] == url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "http://api.bigcommerce.com",
            "plain http:// to api.bigcommerce.com, which is not loopback; use https://",
        ),
        ("http://10.0.0.5:8801", "plain http:// to 10.0.0.5, which is not loopback; use https://"),
        ("http://localhost.evil.com", "plain http:// to localhost.evil.com, which is not loopback"),
        ("ftp://127.0.0.1", "expected an https:// URL (http:// only for a loopback host)"),
        ("api.bigcommerce.com", "expected an https:// URL (http:// only for a loopback host)"),
        ("https://", "expected an https:// URL (http:// only for a loopback host)"),
        ("http://[::1", "not a valid URL"),
        ("http://127.0.0.1:port", "not a valid URL"),
        ("https://user:hunter2@api.example.com", "credentials in the URL; put them in the secret"),
    ],
)
def test_other_http_refused(tmp_path: Path, url: str, expected: str) -> None:
    message = error(tmp_path, with_api_url(url))
    assert message.startswith(f"connections.shop.api_url: {expected}")
    assert "hunter2" not in message


def test_woocommerce_url_and_quickbooks_token_url_checked(tmp_path: Path) -> None:
    woo = (
        '[connections.w]\nkind = "woocommerce"\nurl = "http://shop.example.com"\n'
        'consumer_key = { env = "K" }\nconsumer_secret = { env = "S" }\n'
    )
    assert error(tmp_path, woo).startswith("connections.w.url: plain http:// to shop.example.com")
    qbo = (
        '[connections.q]\nkind = "quickbooks"\nrealm_id = "1"\nclient_id = { env = "A" }\n'
        'client_secret = { env = "B" }\nrefresh_token = { env = "C" }\n'
        'token_url = "http://oauth.example.com/token"\n'
    )
    assert error(tmp_path, qbo).startswith("connections.q.token_url: plain http://")


# -- choosing a pair -------------------------------------------------------------------------


def _config(*names: str) -> Config:
    pairs = {n: PairConfig(n, SANDBOX_PAIR.store, SANDBOX_PAIR.backoffice) for n in names}
    return Config(None, {}, pairs)


def test_pair_none_picks_the_only_one_or_the_sandbox() -> None:
    assert _config().pair(None) is SANDBOX_PAIR
    assert _config("main").pair(None).name == "main"


def test_pair_none_with_several_pairs_asks_for_pair() -> None:
    with pytest.raises(ConfigError) as caught:
        _config("a", "b").pair(None)
    assert str(caught.value) == "several pairs configured (a, b): choose one with --pair"


def test_pair_by_name() -> None:
    config = _config("main")
    assert config.pair("main").name == "main"
    assert config.pair("sandbox") is SANDBOX_PAIR
    with pytest.raises(ConfigError) as caught:
        config.pair("x")
    assert str(caught.value) == "unknown pair 'x' (known: main, sandbox)"


def test_a_configured_sandbox_pair_wins() -> None:
    config = _config("sandbox")
    assert config.pair("sandbox") is config.pairs["sandbox"]
    assert config.pair(None) is config.pairs["sandbox"]
    with pytest.raises(ConfigError, match=r"^unknown pair 'x' \(known: sandbox\)$"):
        config.pair("x")


# -- durations and default paths -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", timedelta(minutes=15)),
        ("30m", timedelta(minutes=30)),
        ("1h", timedelta(hours=1)),
        ("1h30m", timedelta(minutes=90)),
        ("1.5h", timedelta(minutes=90)),
        ("900s", timedelta(minutes=15)),
        (" 24H ", timedelta(hours=24)),
        ("1d", timedelta(days=1)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", "duration '90s' is out of range 15m..24h"),
        ("14m", "duration '14m' is out of range 15m..24h"),
        ("25h", "duration '25h' is out of range 15m..24h"),
        ("2d", "duration '2d' is out of range 15m..24h"),
        ("0m", "duration '0m' is out of range 15m..24h"),
        ("24h1s", "duration '24h1s' is out of range 15m..24h"),
        ("9" * 30 + "d", f"duration '{'9' * 30}d' is out of range 15m..24h"),
        ("30", "duration '30': expected a number and a unit (s, m, h, d), e.g. 30m"),
        ("", "duration '': expected a number and a unit (s, m, h, d), e.g. 30m"),
        ("-30m", "duration '-30m': expected a number and a unit (s, m, h, d), e.g. 30m"),
        (
            "30 minutes",
            "duration '30 minutes': expected a number and a unit (s, m, h, d), e.g. 30m",
        ),
    ],
)
def test_parse_duration_refuses(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_duration(text)
    assert str(caught.value) == expected


def test_default_paths_follow_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUI_SYNC_CONFIG", str(tmp_path / "c.toml"))
    monkeypatch.setenv("TUI_SYNC_HOME", str(tmp_path / "data"))
    assert default_config_path() == tmp_path / "c.toml"
    assert default_data_dir() == tmp_path / "data"
    path = write(tmp_path, valid("")).rename(tmp_path / "c.toml")
    assert load_config().path == path

    monkeypatch.delenv("TUI_SYNC_CONFIG")
    monkeypatch.delenv("TUI_SYNC_HOME")
    assert default_config_path().name == "config.toml"
    assert "tui-sync" in default_config_path().parts
    assert "tui-sync" in default_data_dir().parts


def test_keyring_secret_read_or_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    entries = {("tui-sync", "books"): "qbo-refresh"}
    fake = types.SimpleNamespace(get_password=lambda service, name: entries.get((service, name)))
    monkeypatch.setitem(sys.modules, "keyring", fake)
    assert Secret("keyring", "tui-sync/books").reveal() == "qbo-refresh"
    with pytest.raises(ConfigError) as caught:
        Secret("keyring", "tui-sync/shop", "connections.shop.token").reveal()
    # The key is named, the keyring reference is not echoed.
    assert str(caught.value) == "connections.shop.token: keyring secret not found in the keyring"


# -- issue 10 item 9 -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "hostile",
    [r"\u001b]0;pwned\u0007", r"\u001b]52;c;aGk=\u0007", r"\u009b31m", r"\u202eevil", r"a\u0000b"],
)
def test_control_characters_from_a_quoted_key_are_never_raw(tmp_path: Path, hostile: str) -> None:
    message = error(tmp_path, f'[connections."shop{hostile}"]\nkind = "bigcommerce"\n')
    assert "store_hash" in message  # still says what is wrong, and where
    for raw in ("\x1b", "\x07", "\x9b", "\u202e", "\x00"):
        assert raw not in message


def test_a_required_config_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    assert load_config(missing) == Config(None, {}, {})  # the default path may be missing
    with pytest.raises(ConfigError) as caught:
        load_config(missing, required=True)
    assert str(caught.value) == f"{missing}: no such config file"
