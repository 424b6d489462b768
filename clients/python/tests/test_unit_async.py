"""Unit tests of AsyncClient without a server (httpx.MockTransport, coroutines driven by asyncio.run): it has
every method of Client with the same parameters, sends the same requests and returns the same results; it
retries alike, maps errors alike, and refreshes once for concurrent tasks, after a refusal or before the
access token expires."""

from __future__ import annotations

import asyncio
import inspect
import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple, TypeVar

import httpx
import pytest

import tronch
from tronch import (
    APIConnectionError,
    APITimeoutError,
    AsyncPaginator,
    RateLimitError,
    RateLimitPolicy,
    Refill,
    ServiceUnavailableError,
    SessionRevokedError,
    TokenInvalidError,
    TokenPair,
    TronchError,
    ValidationError,
)

from test_unit_tokens import ACCESS_1, ACCESS_2, ME, REFRESH_1, REFRESH_2, SESSION, json_response, pair_json, problem

API_KEY = "tronch_sk_live_unitunitunitunitunitunitunitunitunitun"
T = TypeVar("T")

Handler = Callable[[httpx.Request], Any]


def run(coroutine: Awaitable[T]) -> T:
    async def main() -> T:
        return await coroutine

    return asyncio.run(main())


def async_client(handler: Handler, **kwargs: Any) -> tronch.AsyncClient:
    kwargs.setdefault("sleep", lambda s: None)
    kwargs.setdefault("api_key", API_KEY)
    client = tronch.AsyncClient("http://tronch.test", transport=httpx.MockTransport(handler), **kwargs)
    if kwargs["api_key"] is None:
        client.set_api_key(None)
    return client


# -- the same API ----------------------------------------------------------------------------------------


def public(obj: Any) -> Dict[str, Any]:
    return {name: getattr(obj, name) for name in dir(obj) if not name.startswith("_")}


def parameters(function: Any) -> List[Tuple[str, Any, Any]]:
    signature = inspect.signature(function)
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


def test_async_client_has_every_method_of_client_with_the_same_parameters() -> None:
    sync_client = tronch.Client("http://tronch.test")
    async_client_ = tronch.AsyncClient("http://tronch.test")
    sync_api, async_api = public(sync_client), public(async_client_)
    assert set(async_api) == set(sync_api) | {"aclose"}
    assert parameters(tronch.AsyncClient.__init__) == parameters(tronch.Client.__init__)
    resources = [name for name, value in sync_api.items() if isinstance(value, tronch._resources.SyncResource)]
    assert sorted(resources) == ["acl_entries", "audit_logs", "auth", "authz", "groups", "keys", "sessions", "users"]
    for name, value in sync_api.items():
        twin = async_api[name]
        if name in resources:
            assert type(twin).__name__ == "Async" + type(value).__name__
            methods, twins = public(value), public(twin)
            assert set(methods) == set(twins), name
            for method_name, method in methods.items():
                assert parameters(twins[method_name]) == parameters(method), f"{name}.{method_name}"
                assert twins[method_name].__doc__ == method.__doc__
                paged = inspect.signature(method).return_annotation.startswith("Paginator[")
                # Lists return an AsyncPaginator at once; everything else is a coroutine.
                assert inspect.iscoroutinefunction(twins[method_name]) is not paged, f"{name}.{method_name}"
        elif inspect.ismethod(value) and name != "close":
            assert parameters(twin) == parameters(value), name
            assert inspect.iscoroutinefunction(twin) == (name in {"login", "complete_mfa", "logout", "request"})
    sync_client.close()
    run(async_client_.aclose())


PRINCIPAL = "user:01a24a83-210a-79eb-8f22-8314b4741e60"

# Every method of the typed API, with arguments that exercise its request building.
CALLS: List[Tuple[str, str, Tuple[Any, ...], Dict[str, Any]]] = [
    ("keys", "create", (), {"name": "x", "owner_id": "cus_1", "environment": "test", "scopes": ["a:read"],
                            "meta": {"plan": "pro"}, "enabled": True, "expires_at": "2030-01-01T00:00:00Z",
                            "allowed_ips": ["10.0.0.0/8"], "ratelimits": [RateLimitPolicy(limit=1, period_seconds=2)],
                            "remaining": 3, "refill": Refill(interval="daily", amount=5), "extra_fields": {"new": 1}}),
    ("keys", "list", (), {"owner_id": "cus_1", "expiring_within": timedelta(days=1), "limit": 1}),
    ("keys", "get", ("k/1",), {}),
    ("keys", "update", ("k1",), {"name": None, "scopes": ["a"], "expires_at": None, "refill": None}),
    ("keys", "revoke", ("k1",), {}),
    ("keys", "rotate", ("k1",), {"grace_period_seconds": timedelta(minutes=1), "expires_at": None}),
    ("keys", "verify", ("tronch_sk_live_x",), {"scopes": ["a"], "ip": "10.0.0.1", "cost": 0}),
    ("keys", "import_keys", ([{"key": "acme_1", "owner_id": "cus_1"}],), {}),
    ("keys", "usage", ("k1",), {"granularity": "day", "from_": "2030-01-01T00:00:00Z"}),
    ("audit_logs", "list", (), {"action": "key.created", "since": "2030-01-01T00:00:00Z", "limit": 2}),
    ("users", "create", (), {"username": "u", "email": "u@example.com", "password": "pw", "role": "viewer"}),
    ("users", "list", (), {"q": "acme web", "role": "member"}),
    ("users", "get", ("u1",), {}),
    ("users", "me", (), {}),
    ("users", "update", ("u1",), {"display_name": None, "status": "disabled"}),
    ("users", "delete", ("u1",), {}),
    ("users", "unlock", ("u1",), {}),
    ("users", "change_password", (), {"current_password": "old", "new_password": "new"}),
    ("users", "enrol_totp", (), {}),
    ("users", "confirm_totp", ("123456",), {}),
    ("users", "regenerate_recovery_codes", ("123456",), {}),
    ("users", "disable_totp", (), {"recovery_code": "aaaa-bbbb-cccc-dddd"}),
    ("users", "reset_mfa", ("u1",), {}),
    ("sessions", "list", (), {"user_id": "u1", "limit": 5}),
    ("sessions", "revoke", ("s1",), {}),
    ("auth", "login", (), {"email": "alice@example.com", "password": "pw"}),
    ("auth", "complete_mfa", ("mfa_token",), {"code": "123456"}),
    ("auth", "refresh", (REFRESH_2,), {}),
    ("auth", "logout", (), {}),
    ("auth", "revoke", ("tok",), {"token_type_hint": "refresh_token"}),
    ("auth", "introspect", ("tok",), {}),
    ("auth", "jwks", (), {}),
    ("auth", "metadata", (), {}),
    ("groups", "create", (), {"name": "g", "description": "d", "mfa_required": True}),
    ("groups", "list", (), {"q": "g"}),
    ("groups", "get", ("g1",), {}),
    ("groups", "update", ("g1",), {"description": None}),
    ("groups", "delete", ("g1",), {}),
    ("groups", "members", ("g1",), {"limit": 1}),
    ("groups", "add_member", ("g1", PRINCIPAL), {}),
    ("groups", "remove_member", ("g1", tronch.Group(id="g2")), {}),
    ("acl_entries", "create", (), {"resource": "project:acme", "principal": PRINCIPAL, "action": "read",
                                   "effect": "allow", "kind": "dacl"}),
    ("acl_entries", "list", (), {"resource": "project:acme", "include_ancestors": True}),
    ("acl_entries", "get", ("e1",), {}),
    ("acl_entries", "delete", ("e1",), {}),
    ("authz", "check", (PRINCIPAL, "read", "project:acme"), {}),
    ("authz", "check_batch", ([(PRINCIPAL, "read", "project:acme"), {"principal": PRINCIPAL, "action": "write",
                                                                     "resource": "project:acme/web"}],), {}),
    ("authz", "check_batch", ([],), {}),
]


class Recorder:
    """Answers every request with a JSON object that every method can read (two pages for a list)."""

    def __init__(self) -> None:
        self.requests: List[Tuple[str, str, Dict[str, str], bytes]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, str(request.url), dict(request.headers), request.content))
        if request.method == "PUT":
            return httpx.Response(201)
        body: Dict[str, Any] = {"id": "x1", "name": "n", "valid": True, "code": "VALID", "allowed": True,
                                "data": [{"id": "i1", "principal": PRINCIPAL}],
                                "next_cursor": None if "cursor=" in str(request.url) else "c2"}
        if request.url.path.endswith("/check-batch"):
            body["results"] = [{"allowed": True, "reason": {"rule": "acl_allow"}}] * len(
                json.loads(request.content)["checks"])
        return json_response(200, body)


@pytest.mark.parametrize("resource,method,args,kwargs", CALLS, ids=[f"{c[0]}.{c[1]}" for c in CALLS])
def test_both_clients_send_the_same_requests_and_return_the_same_results(
    resource: str, method: str, args: Tuple[Any, ...], kwargs: Dict[str, Any]
) -> None:
    sync_seen, async_seen = Recorder(), Recorder()
    with tronch.Client("http://tronch.test", api_key=API_KEY, transport=httpx.MockTransport(sync_seen)) as client:
        expected = getattr(getattr(client, resource), method)(*args, **kwargs)
        if isinstance(expected, tronch.Paginator):
            expected = list(expected)

    async def twin() -> Any:
        async with async_client(async_seen) as client:
            found = getattr(getattr(client, resource), method)(*args, **kwargs)
            if isinstance(found, AsyncPaginator):
                return [item async for item in found]
            return await found

    assert run(twin()) == expected
    assert async_seen.requests == sync_seen.requests
    assert len(sync_seen.requests) == (0 if args == ([],) else 2 if isinstance(expected, list) and method in {
        "list", "members"} else 1)


def test_pages_and_a_repeated_cursor() -> None:
    cursors = iter(["c1", "c2", "c1"])

    def handler(request: httpx.Request) -> httpx.Response:
        return json_response(200, {"data": [{"id": str(request.url.params.get("cursor"))}], "next_cursor": next(cursors)})

    async def main() -> None:
        async with async_client(handler) as client:
            pages = client.keys.list(limit=1, cursor="c0").pages()
            first = await pages.__anext__()
            assert [k.id for k in first.data] == ["c0"] and first.next_cursor == "c1"
            with pytest.raises(TronchError, match="twice"):
                async for _ in pages:
                    pass

    run(main())


def test_request_and_the_answers_it_returns() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/custom":
            return json_response(200, {"query": str(request.url.query, "ascii")})
        if request.url.path == "/api/v1/empty":
            return httpx.Response(204)
        return httpx.Response(200, text="<html>not json</html>", headers={"X-Request-Id": "req_1"})

    async def main() -> None:
        async with async_client(handler) as client:
            assert await client.request("GET", "/custom", params={"q": "a b", "flag": True}) == {
                "query": "q=a%20b&flag=true"}
            assert await client.request("DELETE", "/empty") is None
            with pytest.raises(TronchError) as info:
                await client.request("GET", "/html")
            assert info.value.status == 200 and info.value.request_id == "req_1"

    run(main())


def test_errors_map_to_the_same_classes() -> None:
    answers = [
        problem(400, "VALIDATION_FAILED", errors=[{"field": "name", "message": "too long"}]),
        problem(404, "NOT_FOUND"),
        httpx.Response(502, text="bad gateway"),
    ]

    async def main() -> None:
        async with async_client(lambda request: answers.pop(0)) as client:
            with pytest.raises(ValidationError) as invalid:
                await client.keys.create(name="x" * 300)
            assert invalid.value.errors[0].field == "name"
            with pytest.raises(tronch.NotFoundError):
                await client.keys.get("k1")
            with pytest.raises(TronchError) as other:
                await client.keys.get("k1")
            assert other.value.status == 502 and "bad gateway" in other.value.detail

    run(main())


# -- retries ---------------------------------------------------------------------------------------------


def test_503_and_429_are_retried_with_an_async_sleep_honouring_retry_after() -> None:
    answers = [
        problem(503, "SERVICE_UNAVAILABLE"),
        json_response(429, {"status": 429, "code": "RATE_LIMITED", "detail": "slow down"}, ),
        json_response(200, {"id": "k1"}),
    ]
    answers[0].headers["Retry-After"] = "2"
    slept: List[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def main() -> None:
        async with async_client(lambda request: answers.pop(0), sleep=sleep, backoff_base=0.01) as client:
            assert (await client.keys.create(name="x")).id == "k1"  # a problem answer: even a POST is replayed

    run(main())
    assert len(slept) == 2 and slept[0] >= 2 and slept[1] <= 0.02


def test_a_long_retry_after_raises_at_once_and_retries_run_out() -> None:
    slept: List[float] = []

    def long_wait(request: httpx.Request) -> httpx.Response:
        response = problem(429, "RATE_LIMITED")
        response.headers["Retry-After"] = "120"
        return response

    async def main() -> None:
        async with async_client(long_wait, sleep=slept.append) as client:
            with pytest.raises(RateLimitError) as info:
                await client.keys.get("k1")
            assert info.value.retry_after == 120
        async with async_client(lambda request: problem(503, "SERVICE_UNAVAILABLE"), sleep=slept.append,
                                max_retries=2) as client:
            with pytest.raises(ServiceUnavailableError):
                await client.keys.get("k1")

    run(main())
    assert len(slept) == 2  # none for the long Retry-After, two before giving up on the 503s


def test_connection_errors_are_retried_only_for_idempotent_requests() -> None:
    calls: List[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if len(calls) in (1, 3):
            raise httpx.ConnectError("connection refused", request=request)
        if len(calls) == 4:
            raise httpx.ReadTimeout("slow", request=request)
        if len(calls) == 5:
            raise httpx.UnsupportedProtocol("gopher", request=request)
        return json_response(200, {"id": "k1"})

    async def main() -> None:
        async with async_client(handler, sleep=None, backoff_base=0, backoff_max=0) as client:  # asyncio.sleep(0)
            assert (await client.keys.get("k1")).id == "k1"  # refused, then answered
            with pytest.raises(APIConnectionError):
                await client.keys.create(name="x")  # a POST: not replayed
            with pytest.raises(APITimeoutError):
                await client.keys.verify("tronch_sk_live_x")
            with pytest.raises(APIConnectionError):
                await client.keys.get("k1")  # not transient: not retried

    run(main())
    assert calls == ["GET", "GET", "POST", "POST", "GET"]


# -- tokens ----------------------------------------------------------------------------------------------


class FakeTronch:
    """Answers like Tronch for login, refresh and one protected route; only the latest access token is
    accepted. A refresh waits for ``release`` (so that several tasks meet it)."""

    def __init__(self) -> None:
        self.requests: List[Tuple[str, str]] = []
        self.refreshes = 0
        self.access, self.refresh = ACCESS_1, REFRESH_1
        self._release: Optional[asyncio.Event] = None
        self.refresh_fails_with: Optional[Callable[[httpx.Request], httpx.Response]] = None

    @property
    def release(self) -> asyncio.Event:
        # Made in the running loop: on Python 3.9 an Event made outside it belongs to another loop.
        if self._release is None:
            self._release = asyncio.Event()
            self._release.set()
        return self._release

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/api/v1/auth/login":
            self.requests.append(("login", ""))
            return json_response(200, pair_json(self.access, self.refresh))
        if path == "/api/v1/auth/refresh":
            self.refreshes += 1
            self.requests.append(("refresh", ""))
            await self.release.wait()
            if self.refresh_fails_with is not None:
                return self.refresh_fails_with(request)
            if json.loads(request.content) != {"refresh_token": self.refresh}:
                return problem(401, "REFRESH_TOKEN_REUSED")
            self.access, self.refresh = ACCESS_2 + str(self.refreshes), REFRESH_2
            return json_response(200, pair_json(self.access, self.refresh))
        if path == "/api/v1/auth/logout":
            self.requests.append(("logout", ""))
            return httpx.Response(204)
        status = "ok" if request.headers.get("authorization") == f"Bearer {self.access}" else "401"
        self.requests.append((f"{request.method} {path}", status))
        if status == "ok":
            return json_response(200, ME)
        return problem(401, "TOKEN_INVALID")


def test_login_refresh_on_refusal_once_for_concurrent_tasks() -> None:
    fake = FakeTronch()
    refreshed: List[TokenPair] = []

    async def main() -> None:
        async with async_client(fake, api_key=None, on_refresh=refreshed.append) as client:
            pair = await client.login("alice", password="pw")
            assert client.token_pair is pair and client.session_id == SESSION
            fake.access = "revoked by the server"
            fake.release.clear()
            tasks = [asyncio.ensure_future(client.users.me()) for _ in range(5)]
            while fake.refreshes == 0:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)  # every task has been refused and waits for the refresh
            fake.release.set()
            users = await asyncio.gather(*tasks)
            assert [u.username for u in users] == ["alice"] * 5

    run(main())
    assert fake.refreshes == 1 and len(refreshed) == 1  # a second refresh would be taken for theft
    assert fake.requests.count(("GET /api/v1/users/me", "401")) == 5
    assert fake.requests.count(("GET /api/v1/users/me", "ok")) == 5


def test_early_refresh_once_for_concurrent_tasks() -> None:
    fake = FakeTronch()

    async def main() -> None:
        async with async_client(fake, api_key=None) as client:
            pair = await client.login("alice", password="pw")
            client.set_access_token(replace(pair, expires_at=datetime.now(timezone.utc) + timedelta(seconds=10)))
            fake.release.clear()
            tasks = [asyncio.ensure_future(client.users.me()) for _ in range(4)]
            while fake.refreshes == 0:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)
            fake.release.set()
            await asyncio.gather(*tasks)
            assert client.token_pair is not None and client.token_pair.access_token == fake.access

    run(main())
    assert fake.refreshes == 1
    assert fake.requests == [("login", ""), ("refresh", "")] + [("GET /api/v1/users/me", "ok")] * 4  # no 401


def test_refresh_explicitly_and_with_another_refresh_token() -> None:
    fake = FakeTronch()
    refreshed: List[TokenPair] = []

    async def main() -> None:
        async with async_client(fake, api_key=None, on_refresh=refreshed.append) as client:
            with pytest.raises(ValueError, match="no refresh token"):
                await client.auth.refresh()
            await client.login("alice", password="pw")
            own = await client.auth.refresh(REFRESH_1)  # the client's own, passed explicitly
            assert client.token_pair == own and refreshed == [own]
            with pytest.raises(tronch.RefreshTokenReusedError):
                await client.auth.refresh(REFRESH_1)  # used up, and no longer the client's: its tokens stay
            assert client.token_pair == own and len(refreshed) == 1

    run(main())


def test_a_refused_refresh_is_raised_and_never_repeated() -> None:
    fake = FakeTronch()
    fake.refresh_fails_with = lambda request: problem(401, "SESSION_REVOKED")

    async def main() -> None:
        async with async_client(fake, api_key=None) as client:
            await client.login("alice", password="pw")
            fake.access = "ended"
            with pytest.raises(SessionRevokedError) as info:
                await client.users.me()
            assert isinstance(info.value.__context__, TokenInvalidError)
            assert client.token_pair is None and client.has_access_token
            with pytest.raises(TokenInvalidError):
                await client.users.me()

    run(main())
    assert fake.refreshes == 1


def test_no_refresh_when_turned_off_or_with_a_key() -> None:
    fake = FakeTronch()

    async def main() -> None:
        async with async_client(fake, api_key=None, auto_refresh=False) as client:
            pair = await client.login("alice", password="pw")
            client.set_access_token(replace(pair, expires_at=datetime.now(timezone.utc)))
            fake.access = "revoked"
            with pytest.raises(TokenInvalidError):
                await client.users.me()
        async with async_client(fake) as client:  # a key: a TOKEN_INVALID answer is just raised
            with pytest.raises(TokenInvalidError):
                await client.users.me()

    run(main())
    assert fake.refreshes == 0


def test_switching_credentials_and_logout() -> None:
    fake = FakeTronch()
    seen: List[Dict[str, str]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(dict(request.headers))
        return await fake(request)

    async def main() -> None:
        async with async_client(handler, api_key=None) as client:
            assert "api_key=None" in repr(client) and repr(client).startswith("<tronch.AsyncClient ")
            pair = await client.login("alice", password="pw")
            assert ACCESS_1 not in repr(client) and "access_token=<redacted>" in repr(client)
            client.set_api_key(API_KEY)
            assert client.has_api_key and not client.has_access_token and client.token_pair is None
            assert API_KEY not in repr(client)
            client.set_access_token(pair.access_token, pair.refresh_token)
            await client.users.me()
            assert seen[-1]["authorization"] == f"Bearer {ACCESS_1}" and "x-api-key" not in seen[-1]
            client.use_token(pair)
            await client.sessions.revoke("01a24a83-0000-7000-8000-000000000000")  # another session
            assert client.has_access_token
            await client.logout()
            assert not client.has_access_token and fake.requests[-1] == ("logout", "")
            await client.login("alice", password="pw")
            await client.sessions.revoke(SESSION)  # its own session: the tokens are forgotten
            assert not client.has_access_token

    run(main())


def test_close_and_sleep_options() -> None:
    async def main() -> None:
        client = async_client(lambda request: json_response(200, {}))
        await client.close()
        with pytest.raises(RuntimeError):
            await client.users.me()  # closed

    run(main())
    with pytest.raises(ValueError):
        tronch.AsyncClient("http://tronch.test", max_retries=-1)
