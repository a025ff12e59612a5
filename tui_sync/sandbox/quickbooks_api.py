"""A sandbox QuickBooks Online server: the Accounting API v3 calls tui-sync makes, as Intuit
documents them (CONNECTORS.md section 3), on starlette with SQLite state.

- `GET /v3/company/{realm}/query?query=...&minorversion=75`: the QueryResponse envelope
  (qbo_state); a query it cannot parse is Fault 4000 "QueryParserError" (HTTP 400).
- `POST /v3/company/{realm}/item?minorversion=75`: sparse updates only, guarded by SyncToken
  (stale: Fault 5010 "Stale Object Error", HTTP 400 [S37]); every Item received is validated
  against Finance.xsd (qbo_xsd): an invalid one gets Fault 2010 and is recorded in
  `validation_errors`, which the tests assert empty, so a test that sent it fails.
- `POST /oauth2/v1/tokens/bearer`: the refresh_token grant with HTTP Basic client credentials
  [S36]; each refresh rotates the refresh token. Whether the old one stays valid for a while
  is not documented in our sources: `grace` chooses (True: valid until the new one is used).
- 401 for a missing, unknown or expired access token; 429 past 10 requests a second [S32].

Fault switches (`faults`, for tests only) make it slow, fail with 5xx, throttle (with or
without Retry-After: QBO's own header is not documented), hang after applying a write, answer
a malformed body, change a value or bump a SyncToken just before a write, reject one item.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tui_sync.connectors.qbo_wire import dumps, fault, loads
from tui_sync.sandbox.qbo_state import Company, QueryError, seed, stamp

REALM = "9130"
CLIENT_ID = "sandbox-client-id"
CLIENT_SECRET = "sandbox-client-secret-0123"
ACCESS_TTL = 3600.0
RATE_PER_S = 10
# Fields a write applied, recorded by the names the connector's items give them.
APPLIED_FIELDS = {"quantity": "QtyOnHand", "price": "UnitPrice", "cost": "PurchaseCost"}


@dataclass
class Faults:
    latency_ms: int = 0
    server_errors: int = 0  # the next N API requests answer 503
    throttle: int = 0  # the next N API requests answer 429
    retry_after: str | None = "1"  # the 429's Retry-After (None: no header at all)
    hang_after_write: int = 0  # the next N writes are applied, then answered after `hang_s`
    hang_s: float = 3.0
    malformed: int = 0  # the next N queries answer a cut JSON body
    change_at_write: dict[str, dict[str, Any]] = field(default_factory=dict)
    stale_at_write: set[str] = field(default_factory=set)
    reject_items: set[str] = field(default_factory=set)


class QboSandbox:
    """The app plus its state, switches and records (tests read them directly)."""

    def __init__(
        self,
        path: Path,
        realm: str = REALM,
        size: int = 300,
        validate: bool = True,
        standing_token: str | None = None,
    ) -> None:
        fresh = not path.exists()
        self.company = Company(path)
        if fresh:
            seed(self.company, size)
        self.realm = realm
        # Items are checked against Finance.xsd (xmlschema, a test dependency) unless not.
        self.validate = validate
        # A refresh token that stays valid and comes back unrotated (QBO may keep one for a
        # while [S36]): the sandbox pair's, which every process's server must accept.
        self.standing_token = standing_token
        self.faults = Faults()
        self.grace = True
        self.validation_errors: list[str] = []
        self.requests: list[tuple[str, str, str]] = []  # (method, path, query or body)
        self.refresh_tokens: dict[str, bool] = {}  # token -> still valid
        self.access_tokens: dict[str, float] = {}  # token -> expiry
        self.refreshes = 0
        self.throttled = 0  # 429s answered (faults included)
        self.minor_versions: set[str | None] = set()
        self._successor: dict[str, str] = {}
        self.lock = threading.Lock()
        self._recent: deque[float] = deque()
        base = "/v3/company/{realm}"
        self.app = Starlette(
            routes=[
                Route(base + "/query", self.query, methods=["GET"]),
                Route(base + "/item", self.item, methods=["POST"]),
                Route("/oauth2/v1/tokens/bearer", self.token, methods=["POST"]),
            ]
        )

    # --- what the tests set up and look at --------------------------------------------------

    def issue_refresh_token(self) -> str:
        token = "RT-" + secrets.token_urlsafe(18)
        self.refresh_tokens[token] = True
        return token

    def revoke_all(self) -> None:
        self.refresh_tokens = dict.fromkeys(self.refresh_tokens, False)
        self.access_tokens.clear()

    def expire_access_tokens(self) -> None:
        self.access_tokens = dict.fromkeys(self.access_tokens, 0.0)

    def writes(self) -> list[dict[str, Any]]:
        return [loads(body) for method, path, body in self.requests if method == "POST"]

    # --- the API ----------------------------------------------------------------------------

    def _json(
        self, body: object, status: int = 200, headers: dict[str, str] | None = None
    ) -> Response:
        return Response(dumps(body), status, headers, media_type="application/json")

    async def _gate(self, request: Request) -> Response | None:
        """Auth, rate limit and fault switches, before any API route does its work."""
        self.minor_versions.add(request.query_params.get("minorversion"))
        if self.faults.latency_ms:
            await asyncio.sleep(self.faults.latency_ms / 1000)
        if request.path_params["realm"] != self.realm:
            return self._json(fault("100", "Permission Denied Error", "unknown realm"), 403)
        auth = request.headers.get("authorization", "")
        expiry = self.access_tokens.get(auth.removeprefix("Bearer ").strip(), 0.0)
        if not auth.startswith("Bearer ") or expiry < time.time():
            body = fault(
                "3200",
                "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                "Token expired or invalid",
                kind="AUTHENTICATION",
            )
            return self._json(body, 401)
        with self.lock:
            now = time.monotonic()
            self._recent.append(now)
            while self._recent and self._recent[0] < now - 1.0:
                self._recent.popleft()
            too_fast = len(self._recent) > RATE_PER_S
            if self.faults.throttle > 0:
                self.faults.throttle -= 1
                too_fast = True
            failing = self.faults.server_errors > 0
            if failing:
                self.faults.server_errors -= 1
        if too_fast:
            self.throttled += 1
            headers = (
                {} if self.faults.retry_after is None else {"Retry-After": self.faults.retry_after}
            )
            body = fault(
                "3001",
                "message=ThrottleExceeded; errorCode=003001; statusCode=429",
                "The request limit was reached.",
                kind="SERVICE",
            )
            return self._json(body, 429, headers)
        if failing:
            return self._json(
                fault("10000", "An application error has occurred", "", kind="SystemFault"), 503
            )
        return None

    async def query(self, request: Request) -> Response:
        text = request.query_params.get("query", "")
        self.requests.append(("GET", request.url.path, text))
        refused = await self._gate(request)
        if refused is not None:
            return refused
        try:
            found = self.company.query(text)
        except QueryError as error:
            body = fault("4000", "Error parsing query", f"QueryParserError: {error}")
            return self._json(body, 400)
        answer = {"QueryResponse": found, "time": stamp(time.time())}
        with self.lock:
            cut = self.faults.malformed > 0
            if cut:
                self.faults.malformed -= 1
        if cut:
            text_body = dumps(answer)
            return Response(text_body[: len(text_body) // 2], 200, media_type="application/json")
        return self._json(answer)

    async def item(self, request: Request) -> Response:
        raw = await request.body()
        self.requests.append(("POST", request.url.path, raw.decode("utf-8", "replace")))
        refused = await self._gate(request)
        if refused is not None:
            return refused
        try:
            sent = loads(raw)
        except ValueError:
            return self._invalid(["the body is not JSON"])
        from tui_sync.sandbox.qbo_xsd import validate_item

        problems = validate_item(sent) if self.validate else []
        if not problems and sent.get("sparse") is not True:
            problems = ["only sparse updates are served (a full update would blank the rest)"]
        if problems:
            return self._invalid(problems)
        item_id = str(sent.get("Id", ""))
        for name, value in self.faults.change_at_write.pop(item_id, {}).items():
            self.company.change(item_id, **{name: value})
        if item_id in self.faults.stale_at_write:
            self.faults.stale_at_write.discard(item_id)
            self.company.change(item_id)
        if item_id in self.faults.reject_items:
            body = fault(
                "6000",
                "A business validation error has occurred while processing your request",
                "Business Validation Error: this item cannot be changed",
                "UnitPrice",
            )
            return self._json(body, 400)
        with self.company.lock:
            current = self.company.item(item_id)
            if current is None:
                return self._json(
                    fault("610", "Object Not Found", f"Item {item_id} not found"), 400
                )
            if str(sent.get("SyncToken")) != current["SyncToken"]:
                body = fault(
                    "5010",
                    "Stale Object Error",
                    "Stale Object Error : You and another user were working on the same "
                    "thing. If you continue, you may overwrite their changes.",
                )
                return self._json(body, 400)
            current.update(
                {k: v for k, v in sent.items() if k not in ("sparse", "Id", "SyncToken")}
            )
            current["SyncToken"] = str(int(current["SyncToken"]) + 1)
            stored = self.company.put_item(current)
            for field_name, wire_name in APPLIED_FIELDS.items():
                if wire_name in sent:
                    self.company.applied(item_id, field_name, stored.get(wire_name))
        with self.lock:
            hang = self.faults.hang_after_write > 0
            if hang:
                self.faults.hang_after_write -= 1
        if hang:
            await asyncio.sleep(self.faults.hang_s)
        return self._json({"Item": stored, "time": stamp(time.time())})

    def _invalid(self, problems: list[str]) -> Response:
        self.validation_errors.extend(problems)
        body = fault("2010", "Request has invalid or unsupported property", "; ".join(problems))
        return self._json(body, 400)

    async def token(self, request: Request) -> Response:
        """The refresh_token grant [S36]; 401 invalid_client for bad client credentials,
        400 invalid_grant for an unknown, used-up or revoked refresh token."""
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("authorization", "") != f"Basic {expected}":
            return self._json({"error": "invalid_client"}, 401)
        # application/x-www-form-urlencoded, parsed here: starlette's form() needs an extra
        # package for what urllib does.
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        if form.get("grant_type") != "refresh_token":
            return self._json({"error": "unsupported_grant_type"}, 400)
        old = str(form.get("refresh_token", ""))
        if old and old == self.standing_token:
            return self._grant(old)
        with self.lock:
            if not self.refresh_tokens.get(old):
                return self._json({"error": "invalid_grant"}, 400)
            self.refreshes += 1
            if not self.grace:
                self.refresh_tokens[old] = False
            # With a grace period, a rotated-out token dies once its successor is used.
            for before, successor in self._successor.items():
                if successor == old:
                    self.refresh_tokens[before] = False
            new = self.issue_refresh_token()
            self._successor[old] = new
        return self._grant(new)

    def _grant(self, refresh_token: str) -> Response:
        access = "AT-" + secrets.token_urlsafe(24)
        with self.lock:
            self.access_tokens[access] = time.time() + ACCESS_TTL
        return self._json(
            {
                "token_type": "bearer",
                "access_token": access,
                "expires_in": int(ACCESS_TTL),
                "refresh_token": refresh_token,
                "x_refresh_token_expires_in": 8726400,
            }
        )
