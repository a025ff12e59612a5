"""The shared HTTP client: what each kind of answer becomes, what is retried, what never is,
and that a secret never reaches an error. Driven through httpx's MockTransport."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import httpx
import pytest

from tui_sync.connectors.http import (
    Api,
    AuthFailed,
    NoAnswer,
    NotSent,
    RateLimiter,
    Rejected,
    ServerError,
    Throttled,
    retry_after_header,
)

TOKEN = "tok-SECRET-1234567890"


class Clock:
    """A fake clock whose sleep advances it: back-off is asserted, never waited for."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds


def make_api(
    answers: Sequence[httpx.Response | type[Exception]], clock: Clock
) -> tuple[Api, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(answers)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = queue.pop(0)
        if isinstance(answer, httpx.Response):
            return answer
        raise answer("boom", request=request)  # type: ignore[call-arg]

    async def headers() -> Mapping[str, str]:
        return {"X-Auth-Token": TOKEN}

    client = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    api = Api(
        client,
        "http://127.0.0.1:1/stores/abc/v3",
        "connections.shop",
        RateLimiter(1000, 10, clock=clock, sleep=clock.sleep),
        headers,
        lambda: [TOKEN],
        describe_error=lambda r: str(r.json().get("title", "")),
        sleep=clock.sleep,
    )
    return api, seen


def ok(body: object = None) -> httpx.Response:
    return httpx.Response(200, json=body if body is not None else {"data": []})


async def test_429_waits_what_the_api_asks_then_succeeds() -> None:
    clock = Clock()
    api, seen = make_api([httpx.Response(429, headers={"Retry-After": "7"}), ok()], clock)
    response = await api.request("GET", "/catalog/products")
    assert response.status_code == 200 and len(seen) == 2
    assert 7.0 in clock.slept
    assert seen[0].headers["X-Auth-Token"] == TOKEN


async def test_a_write_is_retried_after_429_but_never_after_a_5xx() -> None:
    clock = Clock()
    api, seen = make_api([httpx.Response(429, headers={"Retry-After": "1"}), ok()], clock)
    await api.request("PUT", "/catalog/variants", json=[], write=True)
    assert len(seen) == 2
    api, seen = make_api([httpx.Response(503), ok()], clock)
    with pytest.raises(NoAnswer, match="HTTP 503 to a write"):
        await api.request("PUT", "/catalog/variants", json=[], write=True)
    assert len(seen) == 1


async def test_a_read_is_retried_after_5xx_within_the_budget() -> None:
    clock = Clock()
    api, seen = make_api([httpx.Response(500), httpx.Response(502), ok()], clock)
    assert (await api.request("GET", "/x")).status_code == 200
    assert len(seen) == 3
    api, seen = make_api([httpx.Response(500)] * 5, clock)
    with pytest.raises(ServerError, match="HTTP 500"):
        await api.request("GET", "/x")
    assert len(seen) == 5


@pytest.mark.parametrize("status", [400, 404, 409, 413, 422])
async def test_a_4xx_is_rejected_once_never_retried(status: int) -> None:
    api, seen = make_api([httpx.Response(status, json={"title": "bad price"})], Clock())
    with pytest.raises(Rejected) as raised:
        await api.request("PUT", "/catalog/variants", json=[], write=True)
    assert raised.value.status == status and "bad price" in str(raised.value)
    assert len(seen) == 1


async def test_401_says_what_to_do_and_never_the_token() -> None:
    body = {"title": f"token {TOKEN} is not valid"}
    api, _ = make_api([httpx.Response(401, json=body)], Clock())
    with pytest.raises(AuthFailed) as raised:
        await api.request("GET", "/catalog/products")
    message = str(raised.value)
    assert TOKEN not in message and "***" in message
    assert message.startswith("connections.shop: HTTP 401") and "check the token" in message


async def test_a_request_that_never_left_is_not_sent_and_safe_to_retry() -> None:
    clock = Clock()
    api, seen = make_api([httpx.ConnectError, ok()], clock)
    assert (await api.request("PUT", "/x", json=[], write=True)).status_code == 200
    api, seen = make_api([httpx.ConnectError] * 5, clock)
    with pytest.raises(NotSent):
        await api.request("PUT", "/x", json=[], write=True)
    assert len(seen) == 5


async def test_a_write_without_an_answer_is_unknown_not_retried() -> None:
    api, seen = make_api([httpx.ReadTimeout, ok()], Clock())
    with pytest.raises(NoAnswer, match="no answer"):
        await api.request("PUT", "/x", json=[], write=True)
    assert len(seen) == 1


async def test_throttled_past_the_budget_says_how_long() -> None:
    api, _ = make_api([httpx.Response(429, headers={"Retry-After": "61"})], Clock())
    with pytest.raises(Throttled) as raised:
        await api.request("GET", "/x")
    assert raised.value.retry_after == 61


def test_retry_after_reads_seconds_and_http_dates() -> None:
    def answer(value: str) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": value})

    assert retry_after_header(answer("3")) == 3
    assert retry_after_header(answer("Wed, 21 Oct 2015 07:28:00 GMT")) == 0  # in the past
    assert retry_after_header(httpx.Response(429)) is None


async def test_the_limiter_keeps_the_rate_and_honours_a_pause() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=2, burst=1, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        await limiter.wait()
    # One at once, then one every half second: four more take two seconds.
    assert clock.now == pytest.approx(2.0)
    limiter.pause(10)
    await limiter.wait()
    assert clock.now == pytest.approx(12.0)


async def test_the_limiter_spends_what_is_left_of_a_window_then_waits_for_its_reset() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=5, burst=1, clock=clock, sleep=clock.sleep)
    # The API said: 10 requests left, the window (30 s) resets in 20 s; 3 may be in flight.
    limiter.window(10, 20.0, 30.0, reserve=3)
    for _ in range(7):
        await limiter.wait()
    assert clock.now == 0  # all at once: the quota allows them, pacing would take 1.4 s
    # A late answer of an earlier request says more were left: the lowest count stands.
    limiter.window(9, 19.5, 30.0, reserve=3)
    await limiter.wait()
    assert clock.now == pytest.approx(19.5)  # the quota's reserve reached: the reset
    # The next window's count replaces the old one.
    limiter.window(150, 30.0, 30.0, reserve=3)
    for _ in range(100):
        await limiter.wait()
    assert clock.now == pytest.approx(19.5)
