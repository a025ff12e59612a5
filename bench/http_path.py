"""HTTP connector benchmarks: a BigCommerce store and a QuickBooks back office over real HTTP.

    python bench/bench.py --http                   # 10k SKUs per side
    python bench/bench.py --http --sizes 10000,100000
    python bench/http_path.py --sizes 10000        # this module on its own

Each sandbox server (tui_sync/sandbox) runs in a process of its own on loopback, with 100 ms
added to every answer (`--latency-ms`) and the vendor's documented rate limit: BigCommerce's
Standard plan quota, 150 requests per 30 s window (CONNECTORS.md 1.6), and QuickBooks' 10
requests a second (its server); QuickBooks' 500 a minute is not enforced by the server, but is
the rate a client may keep up: 8.33 a second. Requests are counted and timed by a thin wrapper
around each server's app (its `/__bench/log` answers them), so the rates are the servers' own.

The catalogs share their SKUs (the QuickBooks items are given the store's SKUs), so rows match.
Rows:
- full refresh: time, and each API's requests per second over the read (first to last
  request) against its allowed rate (target: at least 90 %);
- incremental refresh with 100 items changed on each side (target: under 5 % of the full one);
- a 3,000-change sync each way (quantities to the store, prices to the back office): changes a
  second, and requests a second against the allowed rate.
Spec validation of each request is off in these servers (it is the tests' job, and would be the
servers' CPU, not the connectors', that the rows measure).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

HERE = Path(__file__).resolve()
TOKEN = "bench-token-00000000"
STORE_HASH = "bench"
BC_QUOTA, BC_WINDOW_MS = 150, 30_000
BC_ALLOWED = BC_QUOTA / (BC_WINDOW_MS / 1000)  # 5 requests a second
QBO_ALLOWED = 500 / 60  # 500 a minute per realm (10 a second is the burst)
SYNC_N = 3000
INCREMENTAL_N = 100
RATE_TARGET = 0.90
INCREMENTAL_TARGET = 0.05


# --- the servers, each in its own process ------------------------------------------------------


def _logged(app: Any) -> Any:
    """The app, with every request's time, method and path kept for `/__bench/log`."""
    seen: list[tuple[float, str, str]] = []
    throttled: list[float] = []  # 429s answered

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/__bench/log":
            body = json.dumps(seen + [(t, "429", "") for t in throttled]).encode()
            seen.clear()
            throttled.clear()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": body})
            return
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        query = unquote_plus(scope["query_string"].decode("latin-1"))
        seen.append((time.time(), scope["method"], scope["path"] + "?" + query))

        async def sent(message: Any) -> None:
            if message["type"] == "http.response.start" and message["status"] == 429:
                throttled.append(time.time())
            await send(message)

        await app(scope, receive, sent)

    return asgi


def serve(kind: str, db: Path, latency_ms: int) -> None:
    from tui_sync.sandbox.server import RunningServer

    if kind == "bc":
        from tui_sync.sandbox.bigcommerce_api import BigCommerceSandbox

        bc = BigCommerceSandbox(
            db, TOKEN, STORE_HASH, quota=BC_QUOTA, window_ms=BC_WINDOW_MS, adjust_delay=0.3,
            validate=False,
        )  # fmt: skip
        bc.faults["latency_ms"] = latency_ms
        app = bc.app
    else:
        from tui_sync.sandbox.quickbooks_api import QboSandbox

        qbo = QboSandbox(db)
        qbo.faults.latency_ms = latency_ms
        (db.parent / "refresh_token").write_text(qbo.issue_refresh_token())
        app = qbo.app
    with RunningServer(_logged(app)) as server:
        print(server.url, flush=True)
        sys.stdin.read()  # until the bench closes our stdin


class Server:
    def __init__(self, kind: str, db: Path, latency_ms: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(HERE), "--serve", kind, "--db", str(db),
             "--latency-ms", str(latency_ms)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http://"):
            raise RuntimeError(f"the {kind} server did not start")

    def log(self) -> list[tuple[float, str, str]]:
        import httpx

        found: list[tuple[float, str, str]] = httpx.get(self.url + "/__bench/log").json()
        return found

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


# --- the catalogs ------------------------------------------------------------------------------


def seed(home: Path, skus: int) -> None:
    """A store of about `skus` sellable SKUs, and a company whose inventory items carry them."""
    from tui_sync.connectors.qbo_wire import dumps, loads
    from tui_sync.sandbox import bigcommerce_state as bcs
    from tui_sync.sandbox.qbo_state import Company
    from tui_sync.sandbox.qbo_state import seed as seed_qbo

    conn = bcs.open_state(home / "bc.db")
    bcs.seed(conn, products=max(10, skus * 3 // 8))  # 8 sellable SKUs per 3 products
    sellable = [
        r[0]
        for r in conn.execute(
            "SELECT sku FROM products WHERE base_variant_id IS NOT NULL UNION ALL "
            "SELECT sku FROM variants WHERE option_values != '[]' ORDER BY 1"
        )
    ]
    conn.close()
    company = Company(home / "qbo.db")
    with company.lock:
        company.conn.execute("BEGIN")
        seed_qbo(company, len(sellable))
        rows = company.conn.execute(
            "SELECT id, body FROM items WHERE type = 'Inventory' ORDER BY id"
        ).fetchall()
        for (item_id, body), sku in zip(rows, sellable, strict=False):
            item = loads(body)
            item["Sku"] = sku
            item["Active"] = True
            company.conn.execute(
                "UPDATE items SET body = ?, active = 1 WHERE id = ?", (dumps(item), item_id)
            )
        company.conn.execute("COMMIT")
    company.conn.close()


def change_items(home: Path, n: int) -> None:
    """`n` store products and `n` back-office items changed, as each vendor's UI would."""
    from tui_sync.sandbox import bigcommerce_state as bcs
    from tui_sync.sandbox.qbo_state import Company

    conn = bcs.open_state(home / "bc.db")
    with conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM products WHERE base_variant_id "
                                          "IS NOT NULL ORDER BY id LIMIT ?", (n,))]  # fmt: skip
        for pid in ids:
            conn.execute(
                "UPDATE products SET inventory_level = inventory_level + 1, date_modified = ? "
                "WHERE id = ?",
                (bcs.stamp(), pid),
            )
    conn.close()
    company = Company(home / "qbo.db")
    item_ids = [
        str(r[0])
        for r in company.conn.execute(
            "SELECT id FROM items WHERE type = 'Inventory' ORDER BY id DESC LIMIT ?", (n,)
        )
    ]
    for item_id in item_ids:
        item = company.item(item_id)
        assert item is not None
        company.change(item_id, UnitPrice=item["UnitPrice"] + 1)
    company.conn.close()


# --- the runs ---------------------------------------------------------------------------------


def config(home: Path, bc: Server, qbo: Server) -> Path:
    from tui_sync.sandbox.quickbooks_api import CLIENT_ID, CLIENT_SECRET, REALM

    path = home / "config.toml"
    path.write_text(
        f'[connections.shop]\nkind = "bigcommerce"\nstore_hash = "{STORE_HASH}"\n'
        f'token = {{ env = "BENCH_BC_TOKEN" }}\napi_url = "{bc.url}"\n'
        f'[connections.books]\nkind = "quickbooks"\nrealm_id = "{REALM}"\n'
        'client_id = { env = "BENCH_QBO_ID" }\nclient_secret = { env = "BENCH_QBO_SECRET" }\n'
        'refresh_token = { env = "BENCH_QBO_REFRESH" }\n'
        f'api_url = "{qbo.url}"\ntoken_url = "{qbo.url}/oauth2/v1/tokens/bearer"\n'
        '[pairs.main]\nstore = "shop"\nbackoffice = "books"\n'
        # A bench plants thousands of differences on purpose: no guard refuses them here.
        'guard_zeroed = "100%"\nguard_price_share = "100%"\n'
    )
    os.environ.update(
        BENCH_BC_TOKEN=TOKEN,
        BENCH_QBO_ID=CLIENT_ID,
        BENCH_QBO_SECRET=CLIENT_SECRET,
        BENCH_QBO_REFRESH=(home / "refresh_token").read_text(),
    )
    return path


def rate(log: Sequence[tuple[float, str, str]]) -> tuple[int, float, int]:
    """Requests, requests a second from the first to the last one, and 429s answered."""
    refused = sum(1 for r in log if r[1] == "429")
    sent = sorted(r for r in log if r[1] != "429")
    if len(sent) < 2:
        return len(sent), 0.0, refused
    span = sent[-1][0] - sent[0][0]
    return len(sent), (len(sent) - 1) / span if span > 0 else 0.0, refused


def sync_rows(home: Path, n: int, field: str, to: str) -> dict[str, Any]:
    from tui_sync.cache import Cache
    from tui_sync.config import load_config
    from tui_sync.connectors import capabilities
    from tui_sync.sync import apply, plan
    from tui_sync.views import iter_rows

    pair = load_config(home / "config.toml").pair("main")
    target = "store" if to == "store" else "backoffice"
    source = "backoffice" if to == "store" else "store"
    with Cache.open(home / "data") as cache:
        rows = []
        for row in iter_rows(cache, "main"):
            if row.store is None or row.backoffice is None or row.status.value != "out_of_sync":
                continue
            a, b = row.store.value(field), row.backoffice.value(field)  # type: ignore[arg-type]
            if a is None or b is None or a == b:
                continue
            if field == "quantity" and (int(b) < 0 or int(b) != b):
                continue
            rows.append(row)
            if len(rows) == n:
                break
    the_plan = plan(
        pair,
        rows,
        target,
        (field,),  # type: ignore[arg-type]
        capabilities(pair.store if target == "store" else pair.backoffice, target),
        capabilities(pair.backoffice if target == "store" else pair.store, source),
    )
    start = time.perf_counter()
    applied = apply(home / "data", pair, the_plan, kind="sync")
    seconds = time.perf_counter() - start
    done = applied.run.count("done")
    return {"changes": len(the_plan.changes), "done": done, "s": seconds}


def run_size(size: int, latency_ms: int, sync_n: int, log: Any) -> dict[str, Any]:
    from tui_sync.config import load_config
    from tui_sync.refresh import refresh

    out: dict[str, Any] = {"size": size}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        start = time.perf_counter()
        seed(home, size)
        out["seed_s"] = time.perf_counter() - start
        bc = Server("bc", home / "bc.db", latency_ms)
        qbo = Server("qbo", home / "qbo.db", latency_ms)
        try:
            pair = load_config(config(home, bc, qbo)).pair("main")
            log(f"{size:,}: full refresh")
            bc.log(), qbo.log()
            start = time.perf_counter()
            summary = refresh(home / "data", pair, full=True)
            out["full_s"] = time.perf_counter() - start
            out["rows"], out["items"] = (
                summary.rows,
                (summary.store_items, summary.backoffice_items),
            )
            # QuickBooks' last query (posted orders) waits for the store's pending orders: its
            # rate is that of its item read, the part it does on its own.
            out["full_bc"] = rate(bc.log())
            out["full_qbo"] = rate([r for r in qbo.log() if "FROM Item" in r[2]])

            change_items(home, INCREMENTAL_N)
            log(f"{size:,}: incremental refresh")
            start = time.perf_counter()
            summary = refresh(home / "data", pair)
            out["inc_s"] = time.perf_counter() - start
            out["inc_read"], out["inc_full"] = summary.read, summary.full
            out["inc_bc"], out["inc_qbo"] = rate(bc.log()), rate(qbo.log())

            log(f"{size:,}: sync {sync_n:,} quantities to the store")
            out["sync_bc"] = sync_rows(home, sync_n, "quantity", "store")
            out["sync_bc_rate"] = rate(bc.log())
            qbo.log()
            log(f"{size:,}: sync {sync_n:,} prices to the back office")
            out["sync_qbo"] = sync_rows(home, sync_n, "price", "backoffice")
            out["sync_qbo_rate"] = rate(qbo.log())
        finally:
            bc.stop()
            qbo.stop()
    return out


def _pct(value: float, allowed: float) -> str:
    return f"{value:.2f}/s ({value / allowed:.0%})"


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def table(results: Sequence[dict[str, Any]], latency_ms: int, sync_n: int) -> str:
    lines = [
        f"HTTP connectors, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, load "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; each server in its own process, "
        f"+{latency_ms} ms per request",
        f"BigCommerce quota {BC_QUOTA} per {BC_WINDOW_MS // 1000} s = {BC_ALLOWED:g}/s; "
        f"QuickBooks 10/s and 500/min = {QBO_ALLOWED:.2f}/s",
    ]
    head = f"{'SKUs/side':<44}" + "".join(f"{r['size']:>30,}" for r in results) + "   target"
    lines += [head, "-" * len(head)]

    def row(label: str, cells: Sequence[str], target: str = "") -> None:
        lines.append(f"{label:<44}" + "".join(f"{c:>30}" for c in cells) + f"   {target}")

    def rate_row(label: str, key: str, allowed: float, target: bool) -> None:
        cells, ok = [], True
        for r in results:
            n, per_s, refused = r[key]
            cells.append(
                f"{n} req, {_pct(per_s, allowed)}" + (f", {refused} 429" if refused else "")
            )
            ok = ok and per_s >= RATE_TARGET * allowed
        row(label, cells, f">= 90 %: {_met(ok)}" if target else "")

    row("rows", [f"{r['rows']:,}" for r in results])
    row("full refresh", [f"{r['full_s']:.2f} s" for r in results])
    rate_row("  BigCommerce requests, rate", "full_bc", BC_ALLOWED, True)
    rate_row("  QuickBooks item queries, rate", "full_qbo", QBO_ALLOWED, True)
    row(f"incremental refresh, {INCREMENTAL_N} changed a side",
        [f"{r['inc_s']:.2f} s" for r in results])  # fmt: skip
    ratios = [r["inc_s"] / r["full_s"] for r in results]
    row("  incremental / full", [f"{x:.1%}" for x in ratios],
        f"< 5 %: {_met(all(x < INCREMENTAL_TARGET for x in ratios))}")  # fmt: skip
    rate_row("  BigCommerce requests, rate", "inc_bc", BC_ALLOWED, False)
    rate_row("  QuickBooks requests, rate", "inc_qbo", QBO_ALLOWED, False)
    for key, label, allowed in (
        ("sync_bc", f"sync {sync_n:,} quantities to BigCommerce", BC_ALLOWED),
        ("sync_qbo", f"sync {sync_n:,} prices to QuickBooks", QBO_ALLOWED),
    ):
        row(label, [f"{r[key]['s']:.1f} s" for r in results])
        done = [f"{r[key]['done']:,}, {r[key]['done'] / r[key]['s']:.1f}/s" for r in results]
        row("  changes done, changes/s", done)
        rate_row("  requests, rate", f"{key}_rate", allowed, True)
    lines.append(
        "rate: requests the server saw, per second from the first to the last of them (the "
        "first ones ride the limiter's burst)"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000")
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--sync", type=int, default=SYNC_N, help="changes in each sync row")
    parser.add_argument("--serve", choices=["bc", "qbo"], help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.db, args.latency_ms)
        return

    def log(text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)

    results = []
    for size in args.sizes.split(","):
        results.append(run_size(int(size), args.latency_ms, args.sync, log))
        if len(results) < len(args.sizes.split(",")):  # each size's rows as soon as they exist
            print(table(results, args.latency_ms, args.sync), file=sys.stderr, flush=True)
    print(table(results, args.latency_ms, args.sync))


if __name__ == "__main__":
    main()
