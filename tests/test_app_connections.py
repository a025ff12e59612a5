"""The console on a pair over real HTTP (the sandbox BigCommerce and QuickBooks servers): each
side's connection state and the last refresh are in the title; an auth failure during a refresh
names its side in one line; a console that cannot start on its pair says one line, no traceback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Label, Static

from tests.conftest import FIXED_TIME
from tests.http_pair import BC_TOKEN, HttpPair, http_pair
from tests.screen import screen_lines, screen_text
from tui_sync import cli
from tui_sync.config import ConfigError, Connection, PairConfig, load_config
from tui_sync.tui.app import TuiSyncApp

AUTH_LINE = "Refresh failed: store: auth failed (401): check the token and its scopes"


@pytest.fixture
def pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpPair]:
    with http_pair(tmp_path, monkeypatch) as running:
        yield running


def console(pair: HttpPair) -> TuiSyncApp:
    config = load_config(pair.config)
    return TuiSyncApp(
        pair.data_dir, config.pair("main"), clock=lambda: FIXED_TIME, config_path=pair.config
    )


def label(app: TuiSyncApp, selector: str) -> str:
    return str(app.query_one(selector, Label).render())


def title(app: TuiSyncApp) -> str:
    return str(app.query_one("#title", Static).render())


async def until(pilot: Pilot[None], done: Callable[[], bool]) -> None:
    for _ in range(600):
        await pilot.pause()
        if done():
            return
        await pilot.pause(0.025)
    raise AssertionError("the console never got there")


async def test_an_auth_failure_names_the_side_in_one_line_and_stays_in_the_title(
    pair: HttpPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_BC_TOKEN", "revoked-token-41c7")  # the store's server answers 401
    app = console(pair)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.busy is None and "failed" in label(app, "#status-label"))
        assert label(app, "#status-label") == AUTH_LINE
        lines = screen_lines(app)
        assert lines[0].strip() == (
            "main  LIVE : shop ✗ auth failed (401) ⇄ books (master) · not refreshed yet"
        )
        assert any(line.strip() == AUTH_LINE for line in lines)  # on screen, whole, at 80x24
        shown = screen_text(app)
        assert "Traceback" not in shown and "revoked-token-41c7" not in shown
        assert "books ✗" not in shown  # the back office answered: it is not blamed

        # The token fixed, a refresh works again: the state and the time say so.
        monkeypatch.setenv("TEST_BC_TOKEN", BC_TOKEN)
        await pilot.press("r")
        await until(pilot, lambda: app.busy is None and app.last_refresh.startswith("refreshed"))
        assert title(app) == "tui-sync main  LIVE : shop ⇄ books (master) · refreshed 12:00:00"
        assert label(app, "#status-label").startswith("Refreshed: ")


async def test_a_back_office_auth_failure_names_the_back_office(pair: HttpPair) -> None:
    pair.books.revoke_all()  # the refresh token is refused at the token endpoint
    app = console(pair)
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: app.busy is None and "failed" in label(app, "#status-label"))
        assert label(app, "#status-label") == (
            "Refresh failed: back office: auth failed: check the connection's credentials "
            "(refresh token expired or revoked?)"
        )
        assert "books (master) ✗ auth failed ·" in title(app)
        assert "shop ✗" not in title(app)


async def test_a_console_that_cannot_use_its_pair_closes_with_its_one_line(
    pair: HttpPair,
) -> None:
    shopify = Connection("shop", "shopify", {"shop": "x.myshopify.com"})
    broken: PairConfig = replace(load_config(pair.config).pair("main"), store=shopify)
    app = TuiSyncApp(pair.data_dir, broken, refresh_on_start=False)
    await app.run_async(headless=True, size=(80, 24))  # returns once the app has closed
    assert app.return_code == 2
    assert app.failure is not None and app.failure.startswith(
        "connections.shop: kind 'shopify' has no connector"
    )


def test_the_cli_prints_only_its_one_line_when_the_console_cannot_start(
    pair: HttpPair, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A config the checks before the console let through (here: its capabilities fail only
    once the console asks): the user sees our one line, not Textual's traceback first."""
    import tui_sync.tui.app as app_module

    def refuse(connection: Connection, side: str) -> None:
        raise ConfigError(f"connections.{connection.name}.path: not readable")

    run = TuiSyncApp.run
    monkeypatch.setattr(app_module, "capabilities", refuse)
    monkeypatch.setattr(TuiSyncApp, "run", lambda self: run(self, headless=True))
    monkeypatch.setattr(cli, "_need_terminal", lambda: None)
    config = ["--config", str(pair.config), "--data-dir", str(pair.data_dir)]
    code = cli.main([*config, "open", "--pair", "main"])
    out, err = capsys.readouterr()
    assert code == 2
    assert err == "tui-sync: connections.shop.path: not readable\n"
    assert "Traceback" not in out
