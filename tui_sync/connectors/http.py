"""The HTTP client every HTTP connector shares: timeouts, retries with the vendor's own back-off,
a rate limiter, typed errors, and redaction, so no token ever reaches an error or a log.

One `httpx.AsyncClient` serves both connectors of a pair (`pair_connectors` makes it); each
connector wraps it in an `Api` with its base URL, its auth headers and its vendor's rules.

What a request can end in, typed, because a write's fate depends on it:
- `NotSent`    the request never left (connection refused, DNS): safe to send again;
- `NoAnswer`   it left and no answer came (timeout, reset, a 5xx to a write): maybe applied,
               a read must settle it;
- `Throttled`  429 past the retry budget, with the seconds the API asked for;
- `AuthFailed` 401/403: check the token and its scopes;
- `Rejected`   any other 4xx: the API refused this request (never retried);
- `ServerError` a 5xx to a read, past the retry budget.
Reads retry 429, 5xx, timeouts and connection errors; writes retry only what cannot have been
applied (429, and connection errors before sending).
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from tui_sync.connectors.base import AuthError, ConnectorError
from tui_sync.text import inert

RETRY_BUDGET_S = 60.0  # the longest one request may spend waiting on back-off, in all
MAX_ATTEMPTS = 5
TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class HttpError(ConnectorError):
    """A request that failed; the message is one line, redacted, naming the connection."""


class NotSent(HttpError):
    pass


class NoAnswer(HttpError):
    pass


class Throttled(HttpError):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthFailed(AuthError, HttpError):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status that refused (401, 403), when there was one


class Rejected(HttpError):
    def __init__(self, message: str, status: int, body: object = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class ServerError(HttpError):
    pass


def new_client() -> httpx.AsyncClient:
    """The shared client: TLS always verified, no redirects followed (an API that redirects is
    misconfigured, and a redirect could carry our token to another host)."""
    return httpx.AsyncClient(
        timeout=TIMEOUT,
        verify=True,
        follow_redirects=False,
        limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
        headers={"User-Agent": "tui-sync", "Accept": "application/json"},
    )


class RateLimiter:
    """At most `rate` requests a second (bursts up to `burst`), shared by one API's requests;
    `pause` holds every request until a time the API named (quota exhausted, 429).

    An API that counts its quota per window and says what is left (BigCommerce's
    `X-Rate-Limit-Requests-Left` and `-Time-Reset-Ms`) reports it with `window`: until that
    window resets, requests go as fast as they come while more than `reserve` remain (room for
    the ones already in flight, whose answers are not counted yet), then wait for the reset.
    Pacing evenly at quota/window instead would leave most of a short read's quota unused: 26
    requests took 5 s where the quota allowed them in well under one."""

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self.clock = clock
        self.sleep = sleep
        self._tokens = float(self.burst)
        self._stamp = clock()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()
        self._window_left = 0
        self._window_end = 0.0
        self.reserve = 0

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self.clock() + max(0.0, seconds))

    def window(self, left: int, reset_s: float, size_s: float, reserve: int) -> None:
        """The API's own count: `left` more requests until `reset_s` from now, in windows of
        `size_s`. Answers arrive out of order: within one window the lowest count wins."""
        now = self.clock()
        end = now + max(0.0, reset_s)
        self.reserve = reserve
        if now < self._window_end and end < self._window_end + size_s / 2:
            self._window_left = min(self._window_left, left)  # the same window
            self._window_end = min(self._window_end, end) if reset_s > 0 else self._window_end
        else:
            self._window_left, self._window_end = left, end

    async def wait(self) -> None:
        async with self._lock:
            while True:
                now = self.clock()
                if now < self._paused_until:
                    await self.sleep(self._paused_until - now)
                    continue
                if now < self._window_end:
                    if self._window_left > self.reserve:
                        self._window_left -= 1
                        return
                    await self.sleep(self._window_end - now)  # the quota is spent: its reset
                    continue
                self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await self.sleep((1 - self._tokens) / self.rate)


def retry_after_header(response: httpx.Response) -> float | None:
    """`Retry-After` as seconds or as an HTTP date (RFC 9110 10.2.3)."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def redact(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


@dataclass
class Api:
    """One vendor API on the shared client.

    `headers` gives the auth headers for each request (an OAuth connector refreshes its token
    there); `back_off(response)` reads the vendor's own headers and returns the seconds to wait
    (None: none said); `on_response` lets a connector follow quota headers on every answer;
    `secrets` are scrubbed from every message this API raises."""

    client: httpx.AsyncClient
    base_url: str
    name: str
    limiter: RateLimiter
    headers: Callable[[], Awaitable[Mapping[str, str]]]
    secrets: Callable[[], Sequence[str]]
    back_off: Callable[[httpx.Response], float | None] = retry_after_header
    on_response: Callable[[httpx.Response], None] | None = None
    describe_error: Callable[[httpx.Response], str] | None = None
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def _fail(self, kind: type[HttpError], what: str, *args: Any) -> HttpError:
        message = redact(f"{self.name}: {what}", self.secrets())
        return kind(inert(" ".join(message.split())), *args)

    def _detail(self, response: httpx.Response) -> str:
        if self.describe_error is not None:
            try:
                said = self.describe_error(response)
            except Exception:  # a malformed error body must not hide the status
                said = ""
        else:
            said = ""
        said = said[:200]
        return f"HTTP {response.status_code}" + (f": {said}" if said else "")

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: object = None,
        content: bytes | None = None,
        extra_headers: Mapping[str, str] | None = None,
        write: bool = False,
    ) -> httpx.Response:
        """Send a request; a 2xx answer is returned, anything else raises one typed error."""
        waited, attempt = 0.0, 0
        url = self.base_url + path
        while True:
            attempt += 1
            await self.limiter.wait()
            headers = dict(await self.headers())
            if extra_headers:
                headers.update(extra_headers)
            try:
                response = await self.client.request(
                    method, url, params=params, json=json, content=content, headers=headers
                )
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                # Never left: safe to send again, a write too.
                if attempt < MAX_ATTEMPTS and waited < RETRY_BUDGET_S:
                    delay = min(2.0 ** (attempt - 1) * 0.5, RETRY_BUDGET_S - waited)
                    await self.sleep(delay)
                    waited += delay
                    continue
                raise self._fail(NotSent, f"cannot connect ({type(exc).__name__})") from None
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                if write:  # it may have been applied: only a read can tell
                    raise self._fail(NoAnswer, f"no answer ({type(exc).__name__})") from None
                if attempt < MAX_ATTEMPTS and waited < RETRY_BUDGET_S:
                    delay = min(2.0 ** (attempt - 1) * 0.5, RETRY_BUDGET_S - waited)
                    await self.sleep(delay)
                    waited += delay
                    continue
                raise self._fail(NoAnswer, f"no answer ({type(exc).__name__})") from None
            if self.on_response is not None:
                self.on_response(response)
            status = response.status_code
            if status < 300:
                return response
            if status in (401, 403):
                raise self._fail(
                    AuthFailed,
                    f"{self._detail(response)}; check the token and its scopes",
                    status,
                )
            if status == 429:
                asked = self.back_off(response)
                delay = 1.0 if asked is None else asked
                self.limiter.pause(delay)
                if attempt < MAX_ATTEMPTS and waited + delay <= RETRY_BUDGET_S:
                    await self.sleep(delay)
                    waited += delay
                    continue
                raise self._fail(Throttled, f"throttled ({self._detail(response)})", delay)
            if status >= 500:
                if write:
                    raise self._fail(NoAnswer, f"{self._detail(response)} to a write")
                asked = self.back_off(response)
                delay = min(2.0 ** (attempt - 1) * 0.5, 8.0) if asked is None else asked
                if attempt < MAX_ATTEMPTS and waited + delay <= RETRY_BUDGET_S:
                    await self.sleep(delay)
                    waited += delay
                    continue
                raise self._fail(ServerError, self._detail(response))
            body: object = None
            try:
                body = response.json()
            except ValueError:
                body = None
            raise self._fail(Rejected, self._detail(response), status, body)

    async def get_json(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        response = await self.request("GET", path, params=params)
        try:
            return response.json()
        except ValueError:
            raise self._fail(HttpError, f"GET {path}: the answer is not JSON") from None
