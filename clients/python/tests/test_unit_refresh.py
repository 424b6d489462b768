"""Unit tests without a server for the early refresh (before the access token expires), set_access_token and
client.logout(): when the client refreshes first, how long before the expiry, that threads share one early
refresh, and what happens when it fails."""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, List, Optional

import httpx
import pytest

import tronch
from tronch import SessionRevokedError, TokenPair
from tronch._core import _jwt_times

from test_unit_tokens import ACCESS_1, ACCESS_2, ME, REFRESH_1, REFRESH_2, SESSION, json_response, pair_json, problem


def jwt(claims: Dict[str, Any]) -> str:
    def part(data: Dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'ES256', 'typ': 'at+jwt'})}.{part(claims)}.c2lnbmF0dXJl"


class Server:
    """Answers like Tronch: a refresh with the current refresh token gives a new pair (whose lifetime is
    ``lifetime``); the current access token is accepted, every other refused with TOKEN_INVALID."""

    def __init__(self, lifetime: int = 600) -> None:
        self.lifetime = lifetime
        self.access, self.refresh = ACCESS_1, REFRESH_1
        self.requests: List[str] = []
        self.refreshes = 0
        self.lock = threading.Lock()
        self.refresh_fails_with: Optional[Callable[[], httpx.Response]] = None
        self.in_refresh = threading.Event()
        self.release_refresh = threading.Event()
        self.release_refresh.set()

    def pair(self) -> Dict[str, Any]:
        return {**pair_json(self.access, self.refresh), "expires_in": self.lifetime}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/api/v1/auth/refresh":
            with self.lock:
                self.refreshes += 1
            self.in_refresh.set()
            self.release_refresh.wait(5)
            if self.refresh_fails_with is not None:
                self.requests.append("refresh -> 401")
                return self.refresh_fails_with()
            with self.lock:
                if json.loads(request.content) != {"refresh_token": self.refresh}:
                    return problem(401, "REFRESH_TOKEN_REUSED")
                number = self.refreshes + 1
                self.access = f"{ACCESS_1}{number}"
                self.refresh = "tronch_rt_" + str(number % 10) * 43
                self.requests.append("refresh")
                return json_response(200, self.pair())
        if path == "/api/v1/auth/login":
            self.requests.append("login")
            return json_response(200, self.pair())
        if path == "/api/v1/auth/logout":
            self.requests.append("logout")
            return httpx.Response(204)
        if request.headers.get("authorization") == f"Bearer {self.access}":
            self.requests.append(f"{request.method} {path}")
            return json_response(200, ME)
        self.requests.append(f"{request.method} {path} -> 401")
        return problem(401, "TOKEN_INVALID")


def mock_client(server: Server, **kwargs: Any) -> tronch.Client:
    kwargs.setdefault("sleep", lambda s: None)
    client = tronch.Client("http://tronch.test", transport=httpx.MockTransport(server), **kwargs)
    client.set_api_key(None)
    return client


def expiring(pair: TokenPair, seconds: float) -> TokenPair:
    """The pair as if it had arrived ``pair.expires_in - seconds`` seconds ago."""
    return replace(pair, expires_at=datetime.now(timezone.utc) + timedelta(seconds=seconds))


def test_a_token_about_to_expire_is_refreshed_before_the_request() -> None:
    server = Server()
    seen: List[TokenPair] = []
    with mock_client(server, on_refresh=seen.append) as client:
        pair = client.login("alice", password="pw")
        client.users.me()  # 600 s left: no refresh
        assert server.requests == ["login", "GET /api/v1/users/me"]

        client.set_access_token(expiring(pair, 20))  # within 30 s of its expiry
        assert client.users.me().username == "alice"
        assert server.requests[2:] == ["refresh", "GET /api/v1/users/me"]  # refreshed first: no 401
        assert len(seen) == 1 and client.token_pair == seen[0] and seen[0].session_id == SESSION
        expires_at = client.access_token_expires_at
        assert expires_at is not None and expires_at > datetime.now(timezone.utc) + timedelta(seconds=590)

        client.users.me()  # the new token has 600 s: no second refresh
        assert server.refreshes == 1

        client.set_access_token(expiring(client.token_pair, -5))  # already expired by the local clock
        client.users.me()
        assert server.requests[-2:] == ["refresh", "GET /api/v1/users/me"] and server.refreshes == 2


def test_the_margin_is_30_seconds_or_a_tenth_of_the_lifetime() -> None:
    server = Server(lifetime=60)
    with mock_client(server) as client:
        pair = client.login("alice", password="pw")
        expires_at = client.access_token_expires_at
        assert expires_at is not None and pair.expires_at is not None
        assert abs((expires_at - pair.expires_at).total_seconds()) < 0.001
        client.set_access_token(expiring(pair, 7))  # a 60-second token: refreshed in its last 6 s
        client.users.me()
        assert server.refreshes == 0
        client.set_access_token(expiring(pair, 5))
        client.users.me()
        assert server.refreshes == 1

    server = Server()
    with mock_client(server, refresh_margin=120) as client:  # an explicit margin is used as is
        pair = client.login("alice", password="pw")
        client.set_access_token(expiring(pair, 100))
        client.users.me()
        assert server.refreshes == 1

    with pytest.raises(ValueError):
        tronch.Client("http://tronch.test", refresh_margin=-1)


@pytest.mark.parametrize("options", [{"refresh_margin": 0}, {"auto_refresh": False}])
def test_no_early_refresh_when_turned_off(options: Dict[str, Any]) -> None:
    server = Server()
    with mock_client(server, **options) as client:
        pair = client.login("alice", password="pw")
        client.set_access_token(expiring(pair, 1))
        client.users.me()
    assert server.refreshes == 0


def test_no_early_refresh_without_a_refresh_token_or_an_expiry() -> None:
    server = Server()
    with mock_client(server) as client:
        client.set_access_token(jwt({"exp": time.time() + 5, "iat": time.time() - 595}))  # no refresh token
        assert client.access_token_expires_at is not None
        with pytest.raises(tronch.TokenInvalidError):
            client.users.me()
        client.set_access_token(ACCESS_1, REFRESH_1)  # not a readable JWT: no expiry known
        assert client.access_token_expires_at is None
        client.users.me()
    assert server.refreshes == 0


def test_an_access_token_string_is_refreshed_by_its_exp_claim() -> None:
    server = Server()
    now = time.time()
    with mock_client(server) as client:
        client.set_access_token(jwt({"sub": "u", "exp": now + 10, "iat": now - 590}), REFRESH_1)
        assert client.token_pair is None and client.session_id is None
        expires_at = client.access_token_expires_at
        assert expires_at is not None and abs(expires_at.timestamp() - (now + 10)) < 1
        client.users.me()
        assert server.requests == ["refresh", "GET /api/v1/users/me"]
        assert client.token_pair is not None and client.token_pair.refresh_token == server.refresh


def test_jwt_times() -> None:
    assert _jwt_times(jwt({"exp": 200, "iat": 100})) == (200.0, 100.0)
    assert _jwt_times(jwt({"exp": 200.5})) == (200.5, None)
    assert _jwt_times(jwt({"exp": True, "iat": "100"})) == (None, None)
    assert _jwt_times("not a jwt") == (None, None)
    assert _jwt_times("a.!!!.c") == (None, None)
    assert _jwt_times("a." + base64.urlsafe_b64encode(b"[1, 2]").decode() + ".c") == (None, None)
    assert _jwt_times(ACCESS_1) == (None, None)  # a payload without exp


def test_threads_share_one_early_refresh() -> None:
    server = Server()
    server.release_refresh.clear()
    results: List[str] = []
    errors: List[BaseException] = []
    with mock_client(server) as client:
        client.set_access_token(expiring(client.login("alice", password="pw"), 10))

        def call() -> None:
            try:
                results.append(client.users.me().username)
            except BaseException as error:  # pragma: no cover - reported below
                errors.append(error)

        threads = [threading.Thread(target=call) for _ in range(4)]
        threads[0].start()
        assert server.in_refresh.wait(5)
        for thread in threads[1:]:
            thread.start()
        time.sleep(0.05)
        server.release_refresh.set()
        for thread in threads:
            thread.join(10)
    assert errors == [] and results == ["alice"] * 4
    assert server.refreshes == 1 and "-> 401" not in " ".join(server.requests)


def test_a_refused_early_refresh_is_raised_and_the_refresh_token_dropped() -> None:
    server = Server()
    server.refresh_fails_with = lambda: problem(401, "SESSION_REVOKED")
    with mock_client(server) as client:
        client.set_access_token(expiring(client.login("alice", password="pw"), 10))
        with pytest.raises(SessionRevokedError):
            client.users.me()
        assert client.has_access_token and client.token_pair is None
        client.users.me()  # the access token still works until it expires; no second refresh
    assert server.refreshes == 1


def test_set_access_token_and_logout() -> None:
    server = Server()
    with mock_client(server) as client:
        pair = client.login("alice", password="pw")
        client.set_api_key("tronch_sk_live_" + "K" * 38)
        assert client.has_api_key and client.access_token_expires_at is None
        client.set_access_token(pair.access_token, pair.refresh_token)
        assert client.has_access_token and not client.has_api_key and client.token_pair is None
        client.use_token(pair)  # the earlier name
        assert client.token_pair is pair
        with pytest.raises(TypeError):
            client.set_access_token(pair, REFRESH_2)
        with pytest.raises(ValueError):
            client.set_access_token("two words")
        client.logout()
        assert not client.has_access_token and client.token_pair is None
        assert server.requests[-1] == "logout"
        client.set_access_token(ACCESS_2)
        client.set_access_token(None)
        assert not client.has_access_token and not client.has_api_key
