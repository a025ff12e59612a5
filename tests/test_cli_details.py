"""Issue 10 items 4-9, CLI half: no terminal, closed pipes, exit codes, the small commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_helpers import SCRIPT, fingerprint, one_line, run, text
from tui_sync import cli
from tui_sync.sandbox.state import ensure_sandbox, sandbox_dir

SIZE = 300
TO_STORE = ("sync", "--pair", "sandbox", "--to", "store")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    ensure_sandbox(tmp_path / "data", size=SIZE)
    (tmp_path / "config.toml").write_text("")
    return tmp_path


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One refreshed sandbox for the tests that write nothing (each asserts it)."""
    home = tmp_path_factory.mktemp("shared")
    ensure_sandbox(home / "data", size=SIZE)
    (home / "config.toml").write_text("")
    assert run(home, "refresh").returncode == 0
    return home


def rows(home: Path, *args: str) -> list[dict[str, object]]:
    out = run(home, "diff", "--pair", "sandbox", "--json", *args)
    assert out.returncode == 0, text(out)
    found: list[dict[str, object]] = json.loads(out.stdout)
    return found


def price_skus(home: Path, count: int) -> list[str]:
    return [
        str(r["sku"])
        for r in rows(home, "--status", "out_of_sync")
        if r["cells"]["P"] == "N"  # type: ignore[index]
    ][:count]


# -- item 4: without a terminal --------------------------------------------------------------


@pytest.mark.parametrize("args", [(), ("open",), ("demo",), ("demo", "--size", "500")])
def test_the_console_without_a_terminal_refuses_in_one_line(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    out = run(tmp_path, *args, timeout=30)  # today's code would spin here until killed
    assert out.returncode == 2, text(out)
    assert "needs a terminal" in one_line(out.stderr)
    assert out.stdout == b""
    if "demo" in args:
        assert not sandbox_dir(tmp_path / "data").exists()  # nothing generated for nothing


def test_a_pair_whose_connector_cannot_open_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        # A kind with no connector yet (bigcommerce has one now).
        '[connections.shop]\nkind = "shopify"\nshop = "abc.myshopify.com"\nlocation = "1"\n'
        'access_token = { env = "BC_TOKEN" }\n'
        '[connections.books]\nkind = "sandbox"\nside = "backoffice"\n'
        '[pairs.main]\nstore = "shop"\nbackoffice = "books"\n'
    )
    env = {**os.environ, "BC_TOKEN": "secret-value-9f8e"}
    out = run(tmp_path, "open", "--pair", "main", env=env, timeout=30)
    assert out.returncode == 2, text(out)
    line = one_line(out.stderr)
    assert "connections.shop" in line and "Traceback" not in line
    assert "secret-value-9f8e" not in line


def test_the_console_ending_on_an_error_exits_non_zero(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import tui_sync.tui.app as app_module

    class Crashing:
        """Stands for the app after an unhandled error: `run()` returns, return_code is 1."""

        return_code = 0
        failure = None  # not one of the known errors the app closes on with one line

        def __init__(self, **kwargs: object) -> None:
            pass

        def run(self) -> None:
            self.return_code = 1

    monkeypatch.setattr(app_module, "TuiSyncApp", Crashing)
    monkeypatch.setattr(cli, "_need_terminal", lambda: None)
    base = ["--config", str(home / "config.toml"), "--data-dir", str(home / "data")]
    assert cli.main([*base, "demo"]) == 1
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


# -- item 7: a closed pipe -------------------------------------------------------------------


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A refreshed 2,000-SKU sandbox: more diff output than a pipe buffer holds."""
    home = tmp_path_factory.mktemp("pipes")
    (home / "config.toml").write_text("")
    ensure_sandbox(home / "data", size=2000)
    assert run(home, "refresh").returncode == 0
    return home


@pytest.mark.parametrize("form", [(), ("--json",), ("--csv",)])
def test_diff_into_a_pipe_closed_early_ends_quietly(big: Path, form: tuple[str, ...]) -> None:
    args = [SCRIPT, "--config", str(big / "config.toml"), "--data-dir", str(big / "data")]
    proc = subprocess.Popen([*args, "diff", *form], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(200)  # like `head -c 200`: read a little, then go away
    proc.stdout.close()
    err = proc.stderr.read()
    proc.stderr.close()
    code = proc.wait(timeout=60)
    assert b"Traceback" not in err and b"BrokenPipe" not in err and b"Exception" not in err
    assert code in (0, 141)


def test_readme_pipe_into_head(big: Path) -> None:
    cmd = (
        f"'{SCRIPT}' --config '{big}/config.toml' --data-dir '{big}/data' diff | head -n 3; "
        "exit ${PIPESTATUS[0]}"
    )
    out = subprocess.run(["bash", "-c", cmd], capture_output=True, timeout=120)
    assert len(out.stdout.splitlines()) == 3
    assert b"Traceback" not in out.stderr and b"BrokenPipe" not in out.stderr
    assert out.returncode in (0, 141)


# -- item 8: exit codes and the small commands -----------------------------------------------


def test_version() -> None:
    out = subprocess.run([SCRIPT, "--version"], capture_output=True, timeout=30)
    assert out.returncode == 0 and out.stdout.startswith(b"tui-sync ")
    assert out.stdout.split()[1][:1].isdigit()


def test_diff_exit_code(shared: Path) -> None:
    assert run(shared, "diff", "--exit-code").returncode == 1  # the sandbox has differences
    assert run(shared, "diff").returncode == 0
    assert run(shared, "diff", "--status", "in_sync", "--exit-code").returncode == 0
    assert run(shared, "diff", "--json", "--exit-code").returncode == 1


def test_refusals_alone_do_not_fail_and_nothing_to_write_records_no_run(shared: Path) -> None:
    before = fingerprint(shared)
    out = run(shared, *TO_STORE, "--fields", "both", "--status", "base")
    assert out.returncode == 0, text(out)
    stdout = out.stdout.decode()
    assert "refused" in stdout and "base product" in stdout
    assert stdout.strip().splitlines()[-1].startswith("nothing to write: 0 already equal, ")
    equal = run(shared, *TO_STORE, "--fields", "price", "--status", "in_sync")
    assert equal.returncode == 0, text(equal)
    assert b"nothing to write: " in equal.stdout and b" refused" in equal.stdout
    assert b"run r-" not in equal.stdout
    assert fingerprint(shared) == before
    assert run(shared, "log").stdout.strip() == b"no runs yet"


def test_a_sync_with_refusals_and_writes_exits_0(home: Path) -> None:
    out = run(home, *TO_STORE, "--fields", "price", "--all")
    assert out.returncode == 0, text(out)
    assert b"refused" in out.stdout
    assert out.stdout.decode().strip().splitlines()[-1].startswith("run r-")


def test_dry_run_to_the_master_says_the_real_run_needs_yes(shared: Path) -> None:
    sku = price_skus(shared, 1)[0]
    args = ("sync", "--to", "backoffice", "--fields", "price", "--sku", sku)
    out = run(shared, *args, "--dry-run")
    assert out.returncode == 0, text(out)
    assert b"will need --yes" in out.stdout
    assert b"will need --yes" not in run(shared, *args, "--dry-run", "--yes").stdout


def test_undo_dry_run_prints_the_reverse_plan_and_writes_nothing(home: Path) -> None:
    skus = price_skus(home, 2)
    out = run(home, *TO_STORE, "--fields", "price", "--sku", ",".join(skus))
    run_id = out.stdout.decode().strip().splitlines()[-1].split()[1]
    before = fingerprint(home)
    dry = run(home, "undo", run_id, "--dry-run")
    assert dry.returncode == 0, text(dry)
    lines = dry.stdout.decode().splitlines()
    assert lines[0].startswith("Plan: 2 change(s) to the store")
    assert sum(line.startswith("  write ") for line in lines) == 2
    assert fingerprint(home) == before
    assert run(home, "undo", run_id).returncode == 0
    assert fingerprint(home) != before


def test_log_shows_every_pair_when_several_are_configured(home: Path) -> None:
    (home / "config.toml").write_text(
        '[connections.st]\nkind = "sandbox"\nside = "store"\n'
        '[connections.bo]\nkind = "sandbox"\nside = "backoffice"\n'
        '[pairs.alpha]\nstore = "st"\nbackoffice = "bo"\n'
        '[pairs.beta]\nstore = "st"\nbackoffice = "bo"\n'
    )
    first, second = price_skus(home, 2)
    for name, sku in (("alpha", first), ("beta", second)):
        args = ("sync", "--pair", name, "--to", "store", "--fields", "price", "--sku", sku)
        assert run(home, *args).returncode == 0
    out = run(home, "log")
    assert out.returncode == 0, text(out)
    lines = out.stdout.decode().splitlines()
    assert len(lines) == 2 and " beta " in lines[0] and " alpha " in lines[1]
    only = run(home, "log", "--pair", "alpha").stdout.decode().splitlines()
    assert len(only) == 1 and " alpha " in only[0]
    assert run(home, "log", "--pair", "gamma").returncode == 2


# -- item 9: a config path that was named must exist -----------------------------------------


def test_a_named_config_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    ensure_sandbox(tmp_path / "data", size=SIZE)
    missing = tmp_path / "nope.toml"
    out = run(tmp_path, "--config", str(missing), "diff", config=False)
    assert out.returncode == 2
    assert one_line(out.stderr) == f"tui-sync: --config {missing}: no such config file"
    # TUI_SYNC_CONFIG, like the default path, may name a file not written yet: the sandbox.
    env = {**os.environ, "TUI_SYNC_CONFIG": str(missing)}
    out = run(tmp_path, "diff", config=False, env=env)
    assert out.returncode == 0, text(out)
    # The default path may be missing: then only the sandbox pair exists.
    env = {k: v for k, v in os.environ.items() if k != "TUI_SYNC_CONFIG"}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    out = run(tmp_path, "diff", config=False, env=env)
    assert out.returncode == 0, text(out)


def test_a_missing_env_secret_is_named_at_load(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        '[connections.shop]\nkind = "bigcommerce"\nstore_hash = "abc"\n'
        'token = { env = "TUI_SYNC_TEST_NO_SUCH_VAR" }\n'
    )
    out = run(tmp_path, "diff", "--pair", "sandbox")
    assert out.returncode == 2
    line = one_line(out.stderr)
    assert "connections.shop.token" in line and "TUI_SYNC_TEST_NO_SUCH_VAR is not set" in line


if sys.platform == "win32":  # pragma: no cover - the CLI tests use POSIX shells and pipes
    pytest.skip("POSIX only", allow_module_level=True)
