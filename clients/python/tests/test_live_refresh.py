"""Refreshing before the access token expires, against a live server whose access tokens live
SHORT_TOKEN_TTL (3) seconds: the client refreshes first instead of sending a token about to expire (one
refresh, no 401 on the wire), and tasks of an AsyncClient share one early refresh. Also set_access_token with
strings and client.logout() end to end. (Tronch accepts an access token for 30 s past its exp, for clock
skew, so the refresh after a refusal is provoked by revoking the token: test_live_people.py.)"""

from __future__ import annotations

import asyncio
import time
from typing import Callable, List

import httpx
import tronch
from tronch import TokenPair

from conftest import SHORT_TOKEN_TTL, Person, TronchServer, new_password, no_sleep


class Recording(httpx.HTTPTransport):
    """The real transport, noting each request as "METHOD /path status"."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: List[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        self.seen.append(f"{request.method} {request.url.path} {response.status_code}")
        return response


class AsyncRecording(httpx.AsyncHTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.seen: List[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        self.seen.append(f"{request.method} {request.url.path} {response.status_code}")
        return response


def person_on(server: TronchServer) -> Person:
    with tronch.Client(server.url, api_key=server.root_key, sleep=no_sleep) as admin:
        name = f"r{time.monotonic_ns() % 10**12}"
        password = new_password()
        user = admin.users.create(username=name, email=f"{name}@example.com", password=password)
    return Person(user, password)


def sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.time()))


def expiry(pair: TokenPair) -> float:
    assert pair.expires_at is not None
    return pair.expires_at.timestamp()


ME = "GET /api/v1/users/me"
REFRESH = "POST /api/v1/auth/refresh 200"


def test_refresh_before_expiry(short_lived_server: TronchServer) -> None:
    person = person_on(short_lived_server)
    wire = Recording()
    seen: List[TokenPair] = []
    # The default margin: the last tenth of a 3-second token (0.3 s).
    with tronch.Client(short_lived_server.url, transport=wire, on_refresh=seen.append, sleep=no_sleep) as client:
        client.set_api_key(None)
        first = client.login(person.username, password=person.password)
        assert first.expires_in == SHORT_TOKEN_TTL
        assert client.access_token_expires_at is not None
        assert abs(client.access_token_expires_at.timestamp() - expiry(first)) < 0.001
        client.users.me()
        assert seen == []

        # 0.15 s before the expiry (within the 0.3 s margin): the client refreshes, then sends the request.
        sleep_until(expiry(first) - 0.15)
        assert client.users.me().id == person.id
        assert wire.seen[-3:] == [f"{ME} 200", REFRESH, f"{ME} 200"]
        assert len(seen) == 1 and client.token_pair == seen[0]
        assert seen[0].session_id == first.session_id and seen[0].access_token != first.access_token
        assert expiry(seen[0]) > expiry(first)
        client.users.me()  # a fresh token: no second refresh
        assert len(seen) == 1

        # Logging out ends the session; the client forgets its tokens.
        client.logout()
        assert not client.has_access_token and wire.seen[-1] == "POST /api/v1/auth/logout 204"
    with tronch.Client(short_lived_server.url, api_key=short_lived_server.root_key, sleep=no_sleep) as admin:
        assert list(admin.sessions.list(user_id=person.id)) == []
        assert not admin.auth.introspect(seen[0].refresh_token).active


def test_async_tasks_share_one_early_refresh(short_lived_server: TronchServer) -> None:
    person = person_on(short_lived_server)
    wire = AsyncRecording()
    seen: List[TokenPair] = []

    async def main() -> None:
        async with tronch.AsyncClient(short_lived_server.url, transport=wire, on_refresh=seen.append,
                                      refresh_margin=SHORT_TOKEN_TTL - 1, sleep=no_sleep) as client:
            client.set_api_key(None)
            pair = await client.login(person.username, password=person.password)
            await client.users.me()
            assert seen == []
            await asyncio.sleep(max(0.0, expiry(pair) - (SHORT_TOKEN_TTL - 1) - time.time() + 0.2))
            users = await asyncio.gather(*[client.users.me() for _ in range(5)])
            assert {u.id for u in users} == {person.id}

    asyncio.run(main())
    assert len(seen) == 1  # one refresh for five tasks (a second one would have ended the session)
    assert wire.seen.count(REFRESH) == 1 and wire.seen.count(f"{ME} 200") == 6
    assert not any(line.endswith(" 401") for line in wire.seen)


def test_set_access_token_with_strings_then_logout(
    make_person: Callable[..., Person], make_client: Callable[..., tronch.Client], client: tronch.Client
) -> None:
    person = make_person()
    pair = make_client().auth.login(username=person.username, password=person.password)
    user_client = make_client()
    user_client.set_access_token(pair.access_token, pair.refresh_token)  # e.g. tokens stored by a web app
    assert user_client.token_pair is None and user_client.session_id is None
    expires_at = user_client.access_token_expires_at  # read from the token's exp claim
    assert expires_at is not None and pair.expires_at is not None
    assert abs((expires_at - pair.expires_at).total_seconds()) < 2
    assert user_client.users.me().id == person.id

    # A refusal refreshes with the refresh token given as a string; the client then holds a TokenPair.
    user_client.auth.revoke(pair.access_token, token_type_hint="access_token")
    assert user_client.users.me().id == person.id
    assert user_client.token_pair is not None and user_client.session_id == pair.session_id

    refreshed = user_client.token_pair
    user_client.logout()
    assert not user_client.has_access_token and user_client.token_pair is None
    assert not client.auth.introspect(refreshed.refresh_token).active  # the session has ended
    assert not client.auth.introspect(refreshed.access_token).active
