"""Retries against a local stub server (http.server in a thread): 503 with Retry-After, dropped connections;
for Client, then for AsyncClient."""

from __future__ import annotations

import asyncio
import json
from typing import List

import pytest

import tronch
from tronch import APIConnectionError, ServiceUnavailableError

from stub import DROP, Canned, StubServer, ok, problem

KEY_ID = "01a213e9-b408-75e4-951a-cb3ad4a55eaa"
KEY_JSON = {"id": KEY_ID, "name": "stubbed", "status": "active", "environment": "live", "scopes": []}
API_KEY = "tronch_sk_live_stubstubstubstubstubstubstubstubstubstu"


class Recorder:
    def __init__(self) -> None:
        self.calls: List[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def test_503_with_retry_after_then_200(stub: StubServer) -> None:
    stub.script(problem(503, "SERVICE_UNAVAILABLE", "the database is unreachable", retry_after="2"), ok(KEY_JSON))
    sleeps = Recorder()
    with tronch.Client(stub.url, api_key=API_KEY, sleep=sleeps) as client:
        key = client.keys.get(KEY_ID)
    assert key.id == KEY_ID and key.name == "stubbed"
    assert len(stub.requests) == 2
    assert len(sleeps.calls) == 1 and sleeps.calls[0] >= 2
    for seen in stub.requests:
        assert seen.method == "GET" and seen.path == f"/api/v1/keys/{KEY_ID}"
        assert seen.headers.get("X-API-Key") == API_KEY


def test_503_on_post_with_a_problem_body_is_retried(stub: StubServer) -> None:
    stub.script(
        problem(503, "SERVICE_UNAVAILABLE", "down", retry_after="1"),
        ok({**KEY_JSON, "key": API_KEY}, status=201),
    )
    sleeps = Recorder()
    with tronch.Client(stub.url, api_key=API_KEY, sleep=sleeps) as client:
        created = client.keys.create(name="stubbed")
    assert created.key == API_KEY
    assert [r.method for r in stub.requests] == ["POST", "POST"]
    assert json.loads(stub.requests[1].body) == {"name": "stubbed"}
    assert sleeps.calls and sleeps.calls[0] >= 1


def test_503_from_a_proxy_is_not_retried_for_post(stub: StubServer) -> None:
    stub.script(Canned(503, b"<html>upstream down</html>", {"Content-Type": "text/html"}))
    with tronch.Client(stub.url, api_key=API_KEY, sleep=Recorder()) as client:
        with pytest.raises(ServiceUnavailableError) as info:
            client.keys.create(name="x")
    assert len(stub.requests) == 1
    assert info.value.code is None and "upstream down" in info.value.detail


def test_503_until_the_retries_are_spent(stub: StubServer) -> None:
    stub.script(*[problem(503, "SERVICE_UNAVAILABLE", "down", retry_after="1") for _ in range(3)])
    sleeps = Recorder()
    with tronch.Client(stub.url, api_key=API_KEY, max_retries=2, sleep=sleeps) as client:
        with pytest.raises(ServiceUnavailableError) as info:
            client.keys.get(KEY_ID)
    assert len(stub.requests) == 3 and len(sleeps.calls) == 2
    assert info.value.status == 503 and info.value.code == "SERVICE_UNAVAILABLE"
    assert info.value.retry_after == 1 and info.value.request_id == "req_stub_503"


def test_retry_after_longer_than_max_retry_wait_raises_at_once(stub: StubServer) -> None:
    stub.script(problem(503, "SERVICE_UNAVAILABLE", "down", retry_after="120"))
    sleeps = Recorder()
    with tronch.Client(stub.url, api_key=API_KEY, sleep=sleeps) as client:
        with pytest.raises(ServiceUnavailableError) as info:
            client.keys.get(KEY_ID)
    assert info.value.retry_after == 120
    assert len(stub.requests) == 1 and sleeps.calls == []


def test_backoff_without_retry_after_grows(stub: StubServer) -> None:
    stub.script(*[problem(503, "SERVICE_UNAVAILABLE", "down") for _ in range(3)], ok(KEY_JSON))
    sleeps = Recorder()
    with tronch.Client(stub.url, api_key=API_KEY, max_retries=3, backoff_base=1, backoff_max=3, sleep=sleeps) as client:
        client.keys.get(KEY_ID)
    assert len(sleeps.calls) == 3
    # attempt n waits between half and all of min(backoff_max, base * 2**n)
    for n, delay in enumerate(sleeps.calls):
        ceiling = min(3, 2**n)
        assert ceiling / 2 <= delay <= ceiling


def test_create_is_never_retried_after_a_dropped_connection(stub: StubServer) -> None:
    stub.script(DROP, ok({**KEY_JSON, "key": API_KEY}, status=201))
    sleeps = Recorder()
    with tronch.Client(stub.url, api_key=API_KEY, sleep=sleeps) as client:
        with pytest.raises(APIConnectionError) as info:
            client.keys.create(name="maybe created")
    assert len(stub.requests) == 1 and sleeps.calls == []
    assert info.value.status is None and info.value.code is None


@pytest.mark.parametrize("call", ["rotate", "verify"])
def test_other_posts_are_not_retried_after_a_dropped_connection(stub: StubServer, call: str) -> None:
    stub.script(DROP)
    with tronch.Client(stub.url, api_key=API_KEY, sleep=Recorder()) as client:
        with pytest.raises(APIConnectionError):
            if call == "rotate":
                client.keys.rotate(KEY_ID)
            else:
                client.keys.verify("tronch_sk_live_x")
    assert len(stub.requests) == 1


def test_idempotent_requests_are_retried_after_a_dropped_connection(stub: StubServer) -> None:
    stub.script(DROP, DROP, ok(KEY_JSON), DROP, ok({**KEY_JSON, "status": "revoked"}))
    sleeps = Recorder()
    with tronch.Client(stub.url, api_key=API_KEY, sleep=sleeps) as client:
        assert client.keys.get(KEY_ID).id == KEY_ID
        assert client.keys.revoke(KEY_ID).status == "revoked"
    assert [r.method for r in stub.requests] == ["GET", "GET", "GET", "DELETE", "DELETE"]
    assert len(sleeps.calls) == 3


def test_connection_refused(stub: StubServer) -> None:
    url = stub.url
    stub.stop()
    sleeps = Recorder()
    with tronch.Client(url, api_key=API_KEY, max_retries=2, sleep=sleeps) as client:
        with pytest.raises(APIConnectionError):
            client.keys.get(KEY_ID)
        assert len(sleeps.calls) == 2
        with pytest.raises(APIConnectionError):
            client.keys.create()
        assert len(sleeps.calls) == 2  # not retried


# -- the same with AsyncClient ----------------------------------------------------------------------------


class AsyncRecorder(Recorder):
    async def __call__(self, seconds: float) -> None:  # type: ignore[override]
        self.calls.append(seconds)


def test_async_client_retries_503_and_429_honouring_retry_after(stub: StubServer) -> None:
    stub.script(
        problem(503, "SERVICE_UNAVAILABLE", "the database is unreachable", retry_after="2"),
        ok(KEY_JSON),
        problem(429, "RATE_LIMITED", "too many keys created", retry_after="1"),
        ok({**KEY_JSON, "key": API_KEY}, status=201),
    )
    sleeps = AsyncRecorder()

    async def main() -> None:
        async with tronch.AsyncClient(stub.url, api_key=API_KEY, sleep=sleeps) as client:
            assert (await client.keys.get(KEY_ID)).name == "stubbed"
            assert (await client.keys.create(name="stubbed")).key == API_KEY  # a POST, replayed after a 429 problem

    asyncio.run(main())
    assert [(r.method, r.path) for r in stub.requests] == [("GET", f"/api/v1/keys/{KEY_ID}")] * 2 + [
        ("POST", "/api/v1/keys")] * 2
    assert all(seen.headers.get("X-API-Key") == API_KEY for seen in stub.requests)
    assert len(sleeps.calls) == 2 and sleeps.calls[0] >= 2 and sleeps.calls[1] >= 1


def test_async_client_gives_up_like_the_client(stub: StubServer) -> None:
    stub.script(
        *[problem(503, "SERVICE_UNAVAILABLE", "down", retry_after="1") for _ in range(3)],
        problem(429, "RATE_LIMITED", "slow down", retry_after="120"),
        Canned(503, b"<html>upstream down</html>", {"Content-Type": "text/html"}),
    )
    sleeps = Recorder()  # a plain function works too

    async def main() -> None:
        async with tronch.AsyncClient(stub.url, api_key=API_KEY, max_retries=2, sleep=sleeps) as client:
            with pytest.raises(ServiceUnavailableError) as info:
                await client.keys.get(KEY_ID)
            assert info.value.retry_after == 1 and info.value.request_id == "req_stub_503"
            with pytest.raises(tronch.RateLimitError) as limited:
                await client.keys.get(KEY_ID)  # Retry-After beyond max_retry_wait: raised at once
            assert limited.value.retry_after == 120
            with pytest.raises(ServiceUnavailableError):
                await client.keys.create(name="x")  # a proxy's 503 is not replayed for a POST

    asyncio.run(main())
    assert len(stub.requests) == 5 and len(sleeps.calls) == 2


def test_async_client_after_dropped_connections(stub: StubServer) -> None:
    stub.script(DROP, ok(KEY_JSON), DROP)
    sleeps = AsyncRecorder()

    async def main() -> None:
        async with tronch.AsyncClient(stub.url, api_key=API_KEY, sleep=sleeps) as client:
            assert (await client.keys.get(KEY_ID)).id == KEY_ID  # a GET: replayed
            with pytest.raises(APIConnectionError):
                await client.keys.create(name="maybe created")  # a POST: never replayed

    asyncio.run(main())
    assert [r.method for r in stub.requests] == ["GET", "GET", "POST"] and len(sleeps.calls) == 1
