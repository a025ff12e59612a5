"""The config file of DESIGN.md section 3: TOML in, validated dataclasses out.

Every problem is a `ConfigError` whose message is one line naming the file, the key and what is
wrong, and never a secret's value. Secrets stay references (`Secret`) until a connector reveals
them. The built-in `sandbox` pair exists without any file.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal, NamedTuple, cast
from urllib.parse import urlsplit

import platformdirs

from tui_sync.model import FIELDS, SIDES, Field, QuantityBuffer, Side, other_side
from tui_sync.text import inert

SecretSource = Literal["env", "keyring", "inline"]


class ConfigError(Exception):
    """Bad config or flag: one line naming the file/key/flag and the problem (exit code 2)."""

    def __init__(self, message: str) -> None:
        # One line even when a quoted TOML key or a file name holds a line break, and nothing a
        # terminal would act on: a quoted key may hold an escape sequence (made visible).
        super().__init__(inert(" ".join(message.splitlines())))


@dataclass(frozen=True, repr=False)
class Secret:
    """A reference to a secret; `reveal()` reads it when a connector needs it.

    For `inline`, `ref` holds the value itself. `where` (e.g. `connections.shop.token`) only
    serves error messages.
    """

    source: SecretSource
    ref: str
    where: str = field(default="", compare=False)

    def __repr__(self) -> str:
        return f"Secret({self.source}:{'***' if self.source == 'inline' else self.ref})"

    __str__ = __repr__

    def reveal(self) -> str:
        prefix = f"{self.where}: " if self.where else ""
        if self.source == "inline":
            return self.ref
        if self.source == "env":
            value = os.environ.get(self.ref)
            if not value:
                raise ConfigError(f"{prefix}environment variable {self.ref} is not set")
            return value
        # Errors name the config key (`where`), never the keyring reference itself.
        service, _, name = self.ref.partition("/")
        try:
            import keyring  # type: ignore[import-not-found, unused-ignore]
        except ImportError:
            raise ConfigError(
                f"{prefix}keyring secret: the 'keyring' package is not installed"
            ) from None
        try:
            found: object = keyring.get_password(service, name)
        except Exception as exc:  # a missing or locked backend: report it, without its details
            raise ConfigError(f"{prefix}keyring secret: {type(exc).__name__}") from None
        if not isinstance(found, str) or not found:
            raise ConfigError(f"{prefix}keyring secret not found in the keyring")
        return found


@dataclass(frozen=True)
class Connection:
    name: str
    kind: str
    settings: Mapping[str, object]  # secrets as `Secret`, csv paths as absolute `Path`


@dataclass(frozen=True)
class PairConfig:
    name: str
    store: Connection
    backoffice: Connection
    master: Side = "backoffice"
    fields: tuple[Field, ...] = ("quantity", "price")
    price_tolerance: Decimal = Decimal("0.005")
    schedule: timedelta | None = None
    pending_statuses: tuple[str, ...] | None = None
    # Guards against mass damage (guards.py): shares and changes as fractions ("10%" -> 0.10).
    guard_short_read: Decimal = Decimal("0.10")
    guard_zeroed: Decimal = Decimal("0.20")
    guard_price_share: Decimal = Decimal("0.10")
    guard_price_change: Decimal = Decimal("0.50")
    guard_min_items: int = 10
    # Keeps the store this far below the master (whole units, or a share of the master's
    # quantity): orders that land between two syncs then cannot oversell. None: no buffer.
    quantity_buffer: QuantityBuffer | None = None


def _sandbox_secret(connection: str, key: str, value: str) -> Secret:
    return Secret("inline", value, f"connections.{connection}.{key}")


# The built-in pair: a sandbox BigCommerce store and a sandbox QuickBooks company, reached by
# the real connectors over HTTP on 127.0.0.1 (tui_sync.sandbox.pair starts their servers and
# fills in the URLs). Its secrets are the sandboxes' own, valid nowhere else; the placeholder
# origin is a loopback port nothing listens on, so no vendor is ever reached by mistake.
SANDBOX_UNSERVED = "http://127.0.0.1:9"
SANDBOX_PAIR = PairConfig(
    name="sandbox",
    store=Connection(
        "sandbox-store",
        "bigcommerce",
        {
            "store_hash": "sandbox",
            "token": _sandbox_secret("sandbox-store", "token", "sandbox-store-token"),
            "api_url": SANDBOX_UNSERVED,
        },
    ),
    backoffice=Connection(
        "sandbox-books",
        "quickbooks",
        {
            "realm_id": "9130",
            "client_id": _sandbox_secret("sandbox-books", "client_id", "sandbox-client-id"),
            "client_secret": _sandbox_secret(
                "sandbox-books", "client_secret", "sandbox-client-secret-0123"
            ),
            "refresh_token": _sandbox_secret(
                "sandbox-books", "refresh_token", "sandbox-refresh-token"
            ),
            "api_url": SANDBOX_UNSERVED,
            "token_url": SANDBOX_UNSERVED + "/oauth2/v1/tokens/bearer",
        },
    ),
)


# The console's themes (tui/themes.py): each keeps S and N readable without colour.
CONSOLE_THEMES = ("dark", "light", "16-colour", "monochrome")


@dataclass(frozen=True)
class Config:
    path: Path | None  # the file read; None when there was none
    connections: Mapping[str, Connection]
    pairs: Mapping[str, PairConfig]  # the file's pairs; `pair()` adds the built-in sandbox
    # `[keys]`: console action id -> its keys (tui_sync/keymap.py), validated at load.
    keys: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    theme: str | None = None  # `theme` at the top or in `[console]`; None: the default

    def pair(self, name: str | None) -> PairConfig:
        if name is None:
            if not self.pairs:
                return SANDBOX_PAIR
            if len(self.pairs) > 1:
                names = ", ".join(self.pairs)
                raise ConfigError(f"several pairs configured ({names}): choose one with --pair")
            return next(iter(self.pairs.values()))
        if name in self.pairs:
            return self.pairs[name]
        if name == SANDBOX_PAIR.name:
            return SANDBOX_PAIR
        known = ", ".join(dict.fromkeys([*self.pairs, SANDBOX_PAIR.name]))
        raise ConfigError(f"unknown pair {name!r} (known: {known})")


def default_config_path() -> Path:
    env = os.environ.get("TUI_SYNC_CONFIG")
    if env:
        return Path(env).expanduser()
    return platformdirs.user_config_path("tui-sync") / "config.toml"


def default_data_dir() -> Path:
    env = os.environ.get("TUI_SYNC_HOME")
    return Path(env).expanduser() if env else platformdirs.user_data_path("tui-sync")


MIN_INTERVAL, MAX_INTERVAL = timedelta(minutes=15), timedelta(hours=24)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """'90s', '30m', '1h30m', '1.5h', '1d' -> timedelta, which must lie within 15m..24h."""
    spec = text.strip().lower()
    if not re.fullmatch(r"(\d+(\.\d+)?[smhd])+", spec):
        raise ConfigError(f"duration {text!r}: expected a number and a unit (s, m, h, d), e.g. 30m")
    seconds = sum(float(n) * _UNITS[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)([smhd])", spec))
    # Compare seconds first: a huge number would overflow timedelta before any range check.
    if not MIN_INTERVAL.total_seconds() <= seconds <= MAX_INTERVAL.total_seconds():
        raise ConfigError(f"duration {text!r} is out of range 15m..24h")
    return timedelta(seconds=seconds)


class _Kind(NamedTuple):
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()


_HTTP = ("api_url",)
KINDS: dict[str, _Kind] = {
    "bigcommerce": _Kind(("store_hash", "token"), ("location_id", *_HTTP), ("token",)),
    "shopify": _Kind(
        ("shop", "access_token", "location"), ("api_version", *_HTTP), ("access_token",)
    ),
    "woocommerce": _Kind(
        ("url", "consumer_key", "consumer_secret"), _HTTP, ("consumer_key", "consumer_secret")
    ),
    "quickbooks": _Kind(
        ("realm_id", "client_id", "client_secret", "refresh_token"),
        ("environment", "token_url", *_HTTP),
        ("client_id", "client_secret", "refresh_token"),
    ),
    "square": _Kind(("access_token", "location_id"), _HTTP, ("access_token",)),
    "csv": _Kind(("path",), ("columns", "orders", "writable")),
    # The built-in sandbox's store or back office in a pair of one's own: read as that side's
    # connection (BigCommerce or QuickBooks on loopback) when a pair names it.
    "sandbox": _Kind((), ("side",)),
}
CSV_COLUMNS = ("sku", "name", "brand", "quantity", "price", "cost", "parent_sku", "options")
_INLINE_REFUSED = 'a secret inline in a file others can read; use { env = "VAR" } or chmod 600'
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


def load_config(path: Path | None = None, required: bool = False) -> Config:
    """The config at `path` (default: `default_config_path()`). A missing file is no config
    (only the sandbox pair) unless `required`: a path the user named must exist."""
    path = default_config_path() if path is None else path
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        if required:
            raise ConfigError(f"{path}: no such config file") from None
        return Config(None, {}, {})
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or type(exc).__name__}") from None
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    private = os.name != "posix" or path.stat().st_mode & 0o077 == 0
    return _Reader(str(path), path.parent, private).config(path, raw)


class _Reader:
    """Validates the parsed TOML of one file; every error is prefixed with the file's name."""

    def __init__(self, label: str, folder: Path, private: bool) -> None:
        self.label, self.folder, self.private = label, folder, private

    def fail(self, where: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.label}: {where}: {problem}")

    def table(self, value: object, where: str, allowed: tuple[str, ...] = ()) -> dict[str, object]:
        """A TOML table whose keys are all in `allowed` (any key when `allowed` is empty)."""
        if not isinstance(value, dict):
            raise self.fail(where, "expected a table")
        for key in value:
            if allowed and key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                name = f"{where}.{key}" if where else key
                raise ConfigError(f"{self.label}: unknown key {name}{hint}")
        return cast(dict[str, object], value)

    def config(self, path: Path, raw: dict[str, object]) -> Config:
        top = self.table(raw, "", ("connections", "pairs", "keys", "theme", "console"))
        conns = self.table(top.get("connections", {}), "connections")
        connections = {n: self.connection(n, v) for n, v in conns.items()}
        pairs = self.table(top.get("pairs", {}), "pairs")
        console = self.table(top.get("console", {}), "console", ("theme",))
        if "theme" in top and "theme" in console:
            raise self.fail("console.theme", "theme is also set at the top; keep one")
        theme = console.get("theme", top.get("theme"))
        where = "console.theme" if "theme" in console else "theme"
        return Config(
            path,
            connections,
            {n: self.pair(n, v, connections) for n, v in pairs.items()},
            keys=self.keys(top.get("keys", {})),
            theme=None if theme is None else self.choice(theme, where, CONSOLE_THEMES),
        )

    def keys(self, value: object) -> dict[str, tuple[str, ...]]:
        """`[keys]`: action id = "k" | "k1,k2" | ["k1", "k2"]. The ids are the registry's."""
        table = self.table(value, "keys")
        result: dict[str, tuple[str, ...]] = {}
        if not table:
            return result
        # Only a config that remaps keys pays for reading the registry (it loads no textual).
        from tui_sync.keymap import BadKey, parse_keys
        from tui_sync.tui.actions import ACTION_BY_ID

        for action, keys in table.items():
            where = f"keys.{action}"
            if action not in ACTION_BY_ID:
                close = difflib.get_close_matches(action, list(ACTION_BY_ID), n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                raise self.fail(
                    where, f"unknown action {action!r}{hint}; `tui-sync keys` lists them"
                )
            if isinstance(keys, str):
                given: str | list[str] = keys
            elif isinstance(keys, list) and all(isinstance(k, str) for k in keys):
                given = cast(list[str], keys)
            else:
                raise self.fail(where, 'expected a key or keys: "u", "u,ctrl+z" or ["u", "f2"]')
            try:
                result[action] = parse_keys(given)
            except BadKey as exc:
                raise self.fail(where, str(exc)) from None
        return result

    def connection(self, name: str, value: object) -> Connection:
        where = f"connections.{name}"
        kind = self.table(value, where).get("kind")
        if not isinstance(kind, str) or kind not in KINDS:
            problem = "missing" if kind is None else f"unknown kind {kind!r}"
            raise self.fail(f"{where}.kind", f"{problem} (one of {', '.join(KINDS)})")
        spec = KINDS[kind]
        table = self.table(value, where, ("kind", *spec.required, *spec.optional))
        for key in spec.required:
            if key not in table:
                needs = ", ".join(spec.required)
                raise self.fail(f"{where}.{key}", f"missing (a {kind} connection needs {needs})")
        settings: dict[str, object] = {}
        for key, item in table.items():
            check = _Reader.secret if key in spec.secrets else _CHECKS.get(key, _Reader.text)
            if key != "kind":
                settings[key] = check(self, item, f"{where}.{key}")
        return Connection(name, kind, settings)

    def pair(self, name: str, value: object, connections: Mapping[str, Connection]) -> PairConfig:
        where = f"pairs.{name}"
        table = self.table(value, where, ("store", "backoffice", *_PAIR_CHECKS))
        store, backoffice = (self.end(table, f"{where}.{s}", s, connections) for s in SIDES)
        if store is backoffice:
            raise self.fail(f"{where}.backoffice", "the same connection as the store")
        changes: dict[str, Any] = {
            key: check(self, table[key], f"{where}.{key}")
            for key, check in _PAIR_CHECKS.items()
            if key in table
        }
        return replace(PairConfig(name, store, backoffice), **changes)

    def end(
        self, table: dict[str, object], where: str, side: Side, known: Mapping[str, Connection]
    ) -> Connection:
        ref = table.get(side)
        if ref is None:
            raise self.fail(where, "missing (the name of a connection)")
        if not isinstance(ref, str) or ref not in known:
            names = ", ".join(known) or "none configured"
            raise self.fail(where, f"no connection named {ref!r} (known: {names})")
        connection = known[ref]
        if connection.kind != "sandbox":
            return connection
        if connection.settings.get("side", side) != side:
            raise self.fail(where, f"connection {ref!r} is the sandbox's {other_side(side)} side")
        # The built-in sandbox's side, under this connection's name: served on loopback and
        # reached by the real connector of its vendor (tui_sync.sandbox.pair).
        own = SANDBOX_PAIR.store if side == "store" else SANDBOX_PAIR.backoffice
        return Connection(connection.name, own.kind, own.settings)

    # -- value checks: (reader, value, key path) -> the setting's value ----------------------

    def text(self, value: object, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, "expected a non-empty string")
        return value

    def ident(self, value: object, where: str) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return self.text(value, where)

    def fields(self, value: object, where: str) -> tuple[Field, ...]:
        names = self.strings(value, where)
        unknown = [f for f in names if f not in FIELDS]
        if unknown or not names:
            what = f"unknown field {unknown[0]!r}" if unknown else "empty"
            raise self.fail(where, f"{what} (choose from {', '.join(FIELDS)})")
        return cast(tuple[Field, ...], tuple(dict.fromkeys(names)))

    def strings(self, value: object, where: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(where, "expected a list of strings")
        return tuple(cast(list[str], value))

    def flag(self, value: object, where: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(where, "expected true or false")
        return value

    def secret(self, value: object, where: str) -> Secret:
        usage = 'expected { env = "VAR" } or { keyring = "service/name" }'
        if isinstance(value, str):
            if not self.private:
                raise self.fail(where, _INLINE_REFUSED)
            if not value:
                raise self.fail(where, f"empty; {usage}")
            return Secret("inline", value, where)
        if not isinstance(value, dict) or len(value) != 1:
            raise self.fail(where, usage)
        source, ref = next(iter(self.table(value, where, ("env", "keyring")).items()))
        if not isinstance(ref, str) or not ref:
            raise self.fail(f"{where}.{source}", "expected a non-empty string")
        if source == "keyring" and not all(ref.partition("/")[::2]):
            # Not echoed: a reference is still a hint to where a secret lives.
            raise self.fail(f"{where}.keyring", 'expected "service/name"')
        if source == "env" and not os.environ.get(ref):
            # DESIGN.md section 3: a missing secret is an error at load, naming it (the key and
            # the variable, never a value).
            raise self.fail(where, f"environment variable {ref} is not set")
        return Secret(cast(SecretSource, source), ref, where)

    def url(self, value: object, where: str) -> str:
        try:
            parts = urlsplit(self.text(value, where))
            host, _ = parts.hostname or "", parts.port  # .port raises on a bad port
        except ValueError:
            raise self.fail(where, "not a valid URL") from None
        if parts.username is not None or parts.password is not None:
            raise self.fail(where, "credentials in the URL; put them in the secret keys")
        if host and parts.scheme == "https":
            return parts.geturl()
        if host and parts.scheme == "http":
            if _is_loopback(host):
                return parts.geturl()
            raise self.fail(where, f"plain http:// to {host}, which is not loopback; use https://")
        raise self.fail(where, "expected an https:// URL (http:// only for a loopback host)")

    def shop(self, value: object, where: str) -> str:
        shop = self.text(value, where)
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*\.myshopify\.com", shop.lower()):
            raise self.fail(where, f"expected name.myshopify.com, got {shop!r}")
        return shop

    def path(self, value: object, where: str) -> Path:
        path = Path(self.text(value, where)).expanduser()
        return path if path.is_absolute() else (self.folder / path).resolve()

    def columns(self, value: object, where: str) -> dict[str, str]:
        table = self.table(value, where, CSV_COLUMNS)
        headers = {key: self.text(header, f"{where}.{key}") for key, header in table.items()}
        seen: dict[str, str] = {}
        for key, header in headers.items():
            # Two of our names on one column would write one cell as two fields.
            other = seen.setdefault(header.strip(), key)
            if other != key:
                raise self.fail(f"{where}.{key}", f"header {header!r} is already {where}.{other}")
        return headers

    def choice(self, value: object, where: str, choices: tuple[str, ...]) -> str:
        if not isinstance(value, str) or value not in choices:
            raise self.fail(where, f"expected one of {', '.join(choices)}, got {value!r}")
        return value

    def duration(self, value: object, where: str) -> timedelta:
        text = self.text(value, where)
        try:
            return parse_duration(text)
        except ConfigError as exc:
            raise self.fail(where, str(exc).removeprefix("duration ")) from None

    def percent(self, value: object, where: str, most: Decimal | None = Decimal(100)) -> Decimal:
        """ "10%" -> Decimal("0.10"). Only with its % sign: a bare 0.1 could mean 0.1 % or 10 %."""
        usage = 'expected a percentage such as "10%"'
        if not isinstance(value, str) or not value.strip().endswith("%"):
            raise self.fail(where, usage)
        try:
            number = Decimal(value.strip()[:-1].strip())
        except InvalidOperation:
            raise self.fail(where, usage) from None
        if not number.is_finite() or number < 0 or (most is not None and number > most):
            bound = f"between 0% and {most}%" if most is not None else "0% or more"
            raise self.fail(where, f"expected {bound}, got {value!r}")
        return number / 100

    def count(self, value: object, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.fail(where, f"expected a whole number >= 0, got {value!r}")
        return value

    def buffer(self, value: object, where: str) -> QuantityBuffer | None:
        """`quantity_buffer`: a whole number of units (1) or a percentage ("5%", at most two
        decimals: the share is computed exactly in SQL). 0 or "0%" is no buffer."""
        usage = 'expected a whole number of units such as 1, or a percentage such as "5%"'
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise self.fail(where, f"{usage}, got {value!r}")
        if isinstance(value, int):
            if value < 0:
                raise self.fail(where, f"{usage} (0 or more), got {value!r}")
            return QuantityBuffer(units=value) if value else None
        if not value.strip().endswith("%"):
            raise self.fail(where, f"{usage}, got {value!r}")
        share = self.percent(value, where)
        if share != share.quantize(Decimal("0.0001")):
            raise self.fail(where, f"at most two decimals in the percentage, got {value!r}")
        return QuantityBuffer(share=share) if share else None

    def tolerance(self, value: object, where: str) -> Decimal:
        try:
            if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
                raise InvalidOperation
            tolerance = Decimal(str(value).strip())
        except InvalidOperation:
            raise self.fail(where, 'expected a decimal such as "0.005"') from None
        if not tolerance.is_finite() or tolerance < 0:
            raise self.fail(where, f"expected a decimal >= 0, got {str(value)!r}")
        return tolerance


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# How each key's value is checked and converted; any other key (not a secret) is a non-empty string.
_Check = Callable[[_Reader, object, str], object]
_CHECKS: dict[str, _Check] = {
    **dict.fromkeys(("store_hash", "realm_id", "location_id", "location"), _Reader.ident),
    **dict.fromkeys(("api_url", "token_url", "url"), _Reader.url),
    **dict.fromkeys(("path", "orders"), _Reader.path),
    "shop": _Reader.shop,
    "environment": lambda r, v, w: r.choice(v, w, ("production", "sandbox")),
    "side": lambda r, v, w: r.choice(v, w, SIDES),
    "columns": _Reader.columns,
    "writable": _Reader.flag,
}
_PAIR_CHECKS: dict[str, _Check] = {
    "master": lambda r, v, w: r.choice(v, w, SIDES),
    "fields": _Reader.fields,
    "price_tolerance": _Reader.tolerance,
    "schedule": _Reader.duration,
    "pending_statuses": _Reader.strings,
    **dict.fromkeys(("guard_short_read", "guard_zeroed", "guard_price_share"), _Reader.percent),
    # A price may change by more than 100 % (a price doubled is +100 %).
    "guard_price_change": lambda r, v, w: r.percent(v, w, None),
    "guard_min_items": _Reader.count,
    "quantity_buffer": _Reader.buffer,
}
