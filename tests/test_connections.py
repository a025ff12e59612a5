"""`tui-sync connections [list|test NAME]` against the sandbox BigCommerce and QuickBooks
servers over real HTTP on loopback, with the secrets in the environment: what it lists, what a
test shows, how a refused token reads, and that no secret is ever printed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.http_pair import BC_TOKEN, HttpPair, http_pair
from tui_sync.cli import main


@pytest.fixture
def pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpPair]:
    with http_pair(tmp_path, monkeypatch) as running:
        yield running


def run(pair: HttpPair, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([*args, "--config", str(pair.config), "--data-dir", str(pair.data_dir)])
    out, err = capsys.readouterr()
    for secret in pair.secrets:
        assert secret not in out and secret not in err
    assert "Traceback" not in out + err
    return code, out, err


def test_list_names_each_connection_its_pairs_target_and_secrets(
    pair: HttpPair, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(pair, capsys, "connections")
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert set(lines) == {"shop", "books", "pos", "sandbox-store", "sandbox-books"}
    shop = lines["shop"].split()
    assert shop[1:4] == ["bigcommerce", "main", "(store)"]
    assert f"{pair.store_url}/stores/abc" in lines["shop"] and "ok (token)" in lines["shop"]
    assert f"{pair.books_url}/v3/company/9130" in lines["books"]
    assert "ok (client_id, client_secret, refresh_token)" in lines["books"]
    assert "main (backoffice)" in lines["books"]
    assert str(pair.home / "stock.csv") in lines["pos"] and " - " in lines["pos"]
    assert "sandbox (store)" in lines["sandbox-store"]
    # `list` is the default action, and --json says the same.
    assert run(pair, capsys, "connections", "list")[1] == out
    listed = json.loads(run(pair, capsys, "connections", "list", "--json")[1])
    shop_json = next(c for c in listed if c["name"] == "shop")
    assert shop_json["pairs"] == [{"pair": "main", "side": "store"}]
    assert shop_json["secrets"] == {"token": "ok"}


def test_list_says_which_secret_does_not_resolve(
    pair: HttpPair, capsys: pytest.CaptureFixture[str]
) -> None:
    text = pair.config.read_text()
    pair.config.write_text(text.replace('token = { env = "TEST_BC_TOKEN" }',
                                        'token = { keyring = "tui-sync/nowhere" }'))  # fmt: skip
    code, out, _ = run(pair, capsys, "connections")
    assert code == 0
    shop = next(line for line in out.splitlines() if line.startswith("shop "))
    assert "NOT RESOLVED: token: keyring" in shop
    assert "nowhere" not in out  # the keyring reference is not echoed either
    books = next(line for line in out.splitlines() if line.startswith("books "))
    assert "NOT RESOLVED" not in books


def test_test_bigcommerce_shows_auth_one_small_read_capabilities_and_the_rate_limit(
    pair: HttpPair, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(pair, capsys, "connections", "test", "shop")
    assert code == 0, err
    assert out.splitlines()[0] == "connection shop (bigcommerce, store of pair main)"
    assert "auth          ok" in out
    assert "of 60 products" in out and "BC-00001" in out
    assert "several fields a call; 50 changes a batch" in out
    assert "whole quantities, never negative; money to 4 places" in out
    # The quota the server's X-Rate-Limit-* headers gave (150 per 30 s), and what is left.
    assert "150 requests per 30 s (X-Rate-Limit-*): 14" in out
    assert out.rstrip().endswith("ok")
    # One small page: a single products request, with a small limit.
    pages = [q for m, p, q in pair.store.requests if p.endswith("/v3/catalog/products")]
    assert len(pages) == 1 and "limit=5" in pages[0]
    assert len(out.splitlines()) <= 22  # one screen


def test_test_quickbooks_refreshes_the_token_and_reads(
    pair: HttpPair, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(pair, capsys, "connections", "test", "books", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["ok"] is True and report["side"] == "backoffice"
    assert report["auth"].startswith("ok: an access token")
    assert report["read"]["items"] == 5 and report["read"]["total"] == 95
    assert report["capabilities"]["multi_field_write"] is False
    assert report["rate_limit"]["seen"] == {}  # QuickBooks sends no quota headers
    assert "500 a minute" in report["rate_limit"]["documented"]
    assert pair.books.refreshes == 1
    queries = [q for m, p, q in pair.books.requests if m == "GET"]
    assert any("MAXRESULTS 5" in q for q in queries)
    code, text, _ = run(pair, capsys, "connections", "test", "books")
    assert code == 0 and "no rate-limit headers; documented: 10 requests a second" in text


def test_a_refused_token_is_one_line_naming_the_connection_and_what_to_do(
    pair: HttpPair, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_BC_TOKEN", "not-the-token-9b2c")
    code, out, err = run(pair, capsys, "connections", "test", "shop")
    assert code == 1
    assert err.splitlines() == [
        "tui-sync: connection shop: auth failed: HTTP 401: You are not authorised to access "
        "this resource; check the token and its scopes"
    ]
    assert "not-the-token-9b2c" not in out + err
    assert "auth          FAILED" in out and "rate limit" not in out

    code, out, err = run(pair, capsys, "connections", "test", "shop", "--json")
    report = json.loads(out)
    assert code == 1 and report["ok"] is False and report["error"]["step"] == "auth"
    assert "check the token and its scopes" in report["error"]["message"]

    pair.books.revoke_all()
    code, out, err = run(pair, capsys, "connections", "test", "books")
    assert code == 1
    assert err.startswith("tui-sync: connection books: auth failed: token refresh refused")
    assert "refresh token expired or revoked?" in err and len(err.splitlines()) == 1


def test_an_unreachable_api_says_to_check_api_url(
    pair: HttpPair, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tui_sync.connectors import http

    monkeypatch.setattr(http, "MAX_ATTEMPTS", 1)  # no back-off in a test
    text = pair.config.read_text().replace(pair.store_url, "http://127.0.0.1:9")
    pair.config.write_text(text)
    code, _, err = run(pair, capsys, "connections", "test", "shop")
    assert code == 1
    assert err.startswith("tui-sync: connection shop: auth and read failed: cannot connect")
    assert err.rstrip().endswith("check api_url and that the API is reachable from here")


def test_a_csv_connection_reads_its_file(
    pair: HttpPair, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(pair, capsys, "connections", "test", "pos")
    assert code == 0
    assert "auth          not needed" in out and "1 item(s) in" in out and "W-1" in out
    (pair.home / "stock.csv").unlink()
    code, out, err = run(pair, capsys, "connections", "test", "pos")
    assert code == 1 and err.startswith("tui-sync: connection pos: read failed:")
    assert len(err.splitlines()) == 1


def test_an_unknown_or_missing_name_is_bad_usage(
    pair: HttpPair, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(pair, capsys, "connections", "test", "shopp")
    assert code == 2
    assert err == (
        "tui-sync: connections test: no connection named 'shopp' "
        "(shop, books, pos, sandbox-store, sandbox-books)\n"
    )
    code, _, err = run(pair, capsys, "connections", "test")
    assert code == 2 and "name the connection" in err


def test_the_token_never_reaches_the_output(
    pair: HttpPair, capsys: pytest.CaptureFixture[str]
) -> None:
    # `run` checks every command's output; here the JSON too, on success and on failure.
    for args in (("connections", "--json"), ("connections", "test", "shop", "--json")):
        code, out, _ = run(pair, capsys, *args)
        assert code == 0 and BC_TOKEN not in out
