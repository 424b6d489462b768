"""Unit tests without a server for people and tokens: the credential a request carries, automatic refresh
(once, serialised between threads, never replayed after a connection error), error classes by code, and
the models."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Optional

import httpx
import pytest

import tronch
from tronch import (
    AuthenticationError,
    Introspection,
    MFAEnrollmentRequiredError,
    MFARequiredError,
    PermissionDeniedError,
    RefreshTokenReusedError,
    Session,
    SessionRevokedError,
    TokenInvalidError,
    TokenPair,
    User,
    ValidationError,
)

API_KEY = "tronch_sk_live_unitunitunitunitunitunitunitunitunitun"
ACCESS_1 = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLW9uZQ"
ACCESS_2 = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIyIn0.c2lnbmF0dXJlLXR3bw"
REFRESH_1 = "tronch_rt_" + "1" * 43
REFRESH_2 = "tronch_rt_" + "2" * 43
SESSION = "01a24a83-2161-7cb2-90a1-812609e72523"
ME = {"id": "01a24a83-210a-79eb-8f22-8314b4741e60", "username": "alice", "role": "member", "status": "active"}


def pair_json(access: str, refresh: str) -> Dict[str, Any]:
    return {"access_token": access, "token_type": "Bearer", "expires_in": 600, "refresh_token": refresh,
            "session_id": SESSION}


def json_response(status: int, body: Any) -> httpx.Response:
    content_type = "application/problem+json" if status >= 400 else "application/json"
    return httpx.Response(status, json=body, headers={"Content-Type": content_type})


def problem(status: int, code: str, **extra: Any) -> httpx.Response:
    return json_response(status, {"status": status, "code": code, "detail": f"{code.lower()} here", **extra})


def mock_client(handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any) -> tronch.Client:
    kwargs.setdefault("sleep", lambda s: None)
    client = tronch.Client("http://tronch.test", transport=httpx.MockTransport(handler), **kwargs)
    if "api_key" not in kwargs:
        client.set_api_key(None)
    return client


class FakeTronch:
    """Answers like Tronch for login, refresh and one protected route; ACCESS_1 is refused."""

    def __init__(self) -> None:
        self.requests: List[httpx.Request] = []
        self.refreshes = 0
        self.lock = threading.Lock()
        self.refresh_fails_with: Optional[Callable[[httpx.Request], httpx.Response]] = None
        self.in_refresh = threading.Event()
        self.release_refresh = threading.Event()
        self.release_refresh.set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(request)
        path = request.url.path
        if path == "/api/v1/auth/login":
            return json_response(200, pair_json(ACCESS_1, REFRESH_1))
        if path == "/api/v1/auth/refresh":
            with self.lock:
                self.refreshes += 1
            self.in_refresh.set()
            self.release_refresh.wait(5)
            if self.refresh_fails_with is not None:
                return self.refresh_fails_with(request)
            if json.loads(request.content) != {"refresh_token": REFRESH_1}:
                return problem(401, "REFRESH_TOKEN_REUSED")
            return json_response(200, pair_json(ACCESS_2, REFRESH_2))
        if path == "/api/v1/auth/revoke":
            return httpx.Response(200)
        if request.headers.get("authorization") == f"Bearer {ACCESS_2}" or request.headers.get("x-api-key") == API_KEY:
            if request.method == "POST" and path == "/api/v1/keys":
                return json_response(201, {"id": "k1", "key": API_KEY})
            return json_response(200, ME)
        return problem(401, "TOKEN_INVALID")


def test_login_sends_no_credential_and_then_the_bearer_token() -> None:
    fake = FakeTronch()
    with mock_client(fake, api_key=API_KEY) as client:
        pair = client.login("alice", password="correct horse battery staple")
        assert (pair.access_token, pair.refresh_token, pair.session_id) == (ACCESS_1, REFRESH_1, SESSION)
        assert client.token_pair is pair and client.session_id == SESSION
        client.use_token(ACCESS_2)
        client.users.me()
        client.auth.revoke(REFRESH_2)
    login, me, revoke = fake.requests
    assert "x-api-key" not in login.headers and "authorization" not in login.headers
    assert json.loads(login.content) == {"password": "correct horse battery staple", "username": "alice"}
    assert me.headers["authorization"] == f"Bearer {ACCESS_2}" and "x-api-key" not in me.headers
    assert "authorization" not in revoke.headers and json.loads(revoke.content) == {"token": REFRESH_2}


def test_login_by_email() -> None:
    fake = FakeTronch()
    with mock_client(fake) as client:
        client.auth.login(email="alice@example.com", password="pw pw pw pw pw")
    assert json.loads(fake.requests[0].content) == {"password": "pw pw pw pw pw", "email": "alice@example.com"}


def test_automatic_refresh_once_then_replay() -> None:
    fake = FakeTronch()
    refreshed: List[TokenPair] = []
    with mock_client(fake, on_refresh=refreshed.append) as client:
        client.login("alice", password="pw")
        created = client.keys.create(name="x")  # a POST, refused (TOKEN_INVALID), refreshed, sent again
    assert created.id == "k1"
    paths = [(r.method, r.url.path) for r in fake.requests]
    assert paths == [("POST", "/api/v1/auth/login"), ("POST", "/api/v1/keys"), ("POST", "/api/v1/auth/refresh"),
                     ("POST", "/api/v1/keys")]
    assert fake.requests[1].headers["authorization"] == f"Bearer {ACCESS_1}"
    assert "authorization" not in fake.requests[2].headers
    assert fake.requests[3].headers["authorization"] == f"Bearer {ACCESS_2}"
    assert json.loads(fake.requests[3].content) == {"name": "x"}
    assert [p.refresh_token for p in refreshed] == [REFRESH_2]
    assert client.token_pair is not None and client.token_pair.access_token == ACCESS_2


def test_no_refresh_for_other_401s_keys_or_when_disabled() -> None:
    fake = FakeTronch()
    with mock_client(fake, auto_refresh=False) as client:
        client.login("alice", password="pw")
        with pytest.raises(TokenInvalidError):
            client.users.me()
    assert fake.refreshes == 0

    def unauthenticated(request: httpx.Request) -> httpx.Response:
        return problem(401, "UNAUTHENTICATED")

    with mock_client(unauthenticated) as client:
        client.use_token(ACCESS_1, refresh_token=REFRESH_1)
        with pytest.raises(AuthenticationError) as info:
            client.users.me()
    assert type(info.value) is AuthenticationError


def test_a_refused_refresh_is_raised_and_the_refresh_token_dropped() -> None:
    fake = FakeTronch()
    fake.refresh_fails_with = lambda request: problem(401, "SESSION_REVOKED")
    with mock_client(fake) as client:
        client.login("alice", password="pw")
        with pytest.raises(SessionRevokedError) as info:
            client.users.me()
        assert isinstance(info.value.__context__, TokenInvalidError)
        assert client.token_pair is None and client.has_access_token
        with pytest.raises(TokenInvalidError):
            client.users.me()  # no second refresh with a dead token
    assert fake.refreshes == 1


def test_a_refresh_is_never_replayed_after_a_connection_error() -> None:
    fake = FakeTronch()

    def drop(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("connection reset", request=request)

    fake.refresh_fails_with = drop
    with mock_client(fake, max_retries=3) as client:
        client.login("alice", password="pw")
        with pytest.raises(tronch.APIConnectionError):
            client.users.me()
        with pytest.raises(tronch.APIConnectionError):
            client.auth.refresh()
        # The refresh token is kept: the attempt may never have reached the server.
        assert client.token_pair is not None and client.token_pair.refresh_token == REFRESH_1
    assert fake.refreshes == 2


def test_threads_share_one_refresh() -> None:
    fake = FakeTronch()
    fake.release_refresh.clear()
    results: List[str] = []
    errors: List[BaseException] = []
    with mock_client(fake) as client:
        client.login("alice", password="pw")

        def call() -> None:
            try:
                results.append(client.users.me().username)
            except BaseException as error:  # pragma: no cover - reported below
                errors.append(error)

        threads = [threading.Thread(target=call) for _ in range(4)]
        threads[0].start()
        assert fake.in_refresh.wait(5)
        for thread in threads[1:]:
            thread.start()
        fake.release_refresh.set()
        for thread in threads:
            thread.join(10)
    assert errors == [] and results == ["alice"] * 4
    assert fake.refreshes == 1  # a second refresh with REFRESH_1 would have been taken for theft


def test_set_api_key_forgets_the_tokens_and_use_token_the_key() -> None:
    fake = FakeTronch()
    with mock_client(fake) as client:
        client.login("alice", password="pw")
        assert "access_token=<redacted>" in repr(client) and SESSION in repr(client)
        client.set_api_key(API_KEY)
        assert client.has_api_key and not client.has_access_token and client.token_pair is None
        client.users.me()
        assert fake.requests[-1].headers["x-api-key"] == API_KEY
        assert "authorization" not in fake.requests[-1].headers
        client.use_token(ACCESS_2)
        assert not client.has_api_key and client.has_access_token
        client.use_token(None)
        assert not client.has_access_token and not client.has_api_key
        assert "api_key=None" in repr(client)
        with pytest.raises(TypeError):
            client.use_token(TokenPair.from_dict(pair_json(ACCESS_1, REFRESH_1)), refresh_token=REFRESH_2)
        with pytest.raises(ValueError) as info:
            client.use_token("secret token\nInjected: header")
        assert "secret" not in str(info.value)


def test_logout_and_session_revocation_forget_the_tokens() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/auth/login":
            return json_response(200, pair_json(ACCESS_2, REFRESH_2))
        return httpx.Response(204)

    with mock_client(handler) as client:
        client.login("alice", password="pw")
        client.sessions.revoke("01a24a83-0000-7000-8000-000000000000")  # another session
        assert client.has_access_token
        client.sessions.revoke(SESSION)
        assert not client.has_access_token
        client.login("alice", password="pw")
        client.auth.logout()
        assert not client.has_access_token


def test_error_classes_by_code() -> None:
    answers = {
        "/api/v1/a": problem(401, "INVALID_CREDENTIALS"),
        "/api/v1/b": problem(401, "REFRESH_TOKEN_REUSED"),
        "/api/v1/c": problem(401, "MFA_REQUIRED", mfa_token="mfa_SECRET_TOKEN", methods=["totp", "recovery_code"]),
        "/api/v1/d": problem(403, "MFA_ENROLLMENT_REQUIRED"),
        "/api/v1/e": problem(400, "TOKEN_INVALID"),  # a code on an unexpected status: the status decides
        "/api/v1/f": problem(401, "SOMETHING_NEWER"),
    }

    def handler(request: httpx.Request) -> httpx.Response:
        return answers[request.url.path]

    caught: Dict[str, tronch.TronchError] = {}
    with mock_client(handler, max_retries=0) as client:
        for path in answers:
            with pytest.raises(tronch.TronchError) as info:
                client.request("GET", path[len("/api/v1"):])
            caught[path[-1]] = info.value
    assert type(caught["a"]) is tronch.InvalidCredentialsError and isinstance(caught["a"], AuthenticationError)
    assert type(caught["b"]) is RefreshTokenReusedError and isinstance(caught["b"], SessionRevokedError)
    mfa = caught["c"]
    assert isinstance(mfa, MFARequiredError) and isinstance(mfa, AuthenticationError)
    assert mfa.mfa_token == "mfa_SECRET_TOKEN" and mfa.methods == ["totp", "recovery_code"]
    assert "SECRET" not in str(mfa) and "SECRET" not in repr(mfa)
    assert type(caught["d"]) is MFAEnrollmentRequiredError and isinstance(caught["d"], PermissionDeniedError)
    assert type(caught["e"]) is ValidationError
    assert type(caught["f"]) is AuthenticationError and caught["f"].code == "SOMETHING_NEWER"


def test_requests_of_users_and_sessions() -> None:
    seen: List[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/api/v1/users" and request.method == "GET":
            cursor = request.url.params.get("cursor")
            if cursor is None:
                return json_response(200, {"data": [ME], "next_cursor": "next"})
            return json_response(200, {"data": [dict(ME, id="u2")], "next_cursor": None})
        if request.url.path == "/api/v1/sessions":
            return json_response(200, {"data": [], "next_cursor": None})
        if request.url.path == "/api/v1/users/me/password":
            return httpx.Response(204)
        return json_response(200, ME)

    with mock_client(handler, api_key=API_KEY) as client:
        client.users.create(username="bob", email="bob@example.com", password="a fine password", role="viewer")
        assert [u.id for u in client.users.list(q="al", role="member", status="active", limit=1)] == [ME["id"], "u2"]
        client.users.update("u/1", display_name=None, status="disabled")
        client.users.update("u1", password="a new fine password")
        client.users.unlock("u1")
        client.users.delete("u1")
        client.users.change_password(current_password="old one here", new_password="new one here")
        assert list(client.sessions.list(user_id="u1", limit=5)) == []
    requests = [(r.method, r.url.raw_path.decode().split("?")[0], json.loads(r.content) if r.content else None)
                for r in seen]
    assert requests[0] == ("POST", "/api/v1/users", {"username": "bob", "email": "bob@example.com",
                                                     "password": "a fine password", "role": "viewer"})
    assert dict(seen[1].url.params) == {"q": "al", "role": "member", "status": "active", "limit": "1"}
    assert dict(seen[2].url.params) == {"q": "al", "role": "member", "status": "active", "limit": "1", "cursor": "next"}
    assert requests[3] == ("PATCH", "/api/v1/users/u%2F1", {"display_name": None, "status": "disabled"})
    assert requests[4] == ("PATCH", "/api/v1/users/u1", {"password": "a new fine password"})
    assert requests[5][:2] == ("POST", "/api/v1/users/u1/unlock")
    assert requests[6][:2] == ("DELETE", "/api/v1/users/u1")
    assert requests[7] == ("POST", "/api/v1/users/me/password",
                           {"current_password": "old one here", "new_password": "new one here"})
    assert requests[8][:2] == ("GET", "/api/v1/sessions") and dict(seen[8].url.params) == {"user_id": "u1", "limit": "5"}


def test_models() -> None:
    pair = TokenPair.from_dict(pair_json(ACCESS_1, REFRESH_1))
    assert ACCESS_1 not in repr(pair) and REFRESH_1 not in repr(pair) and REFRESH_1 not in str(pair)
    assert pair.expires_at is not None and 590 < (pair.expires_at - datetime.now(timezone.utc)).total_seconds() <= 600

    user = User.from_dict({**ME, "locked_until": "2999-01-01T00:00:00.000Z", "mfa_enabled": True, "new": 1})
    assert user.locked and user.mfa_enabled and user.display_name is None and user.raw["new"] == 1
    assert not User.from_dict({**ME, "locked_until": "2000-01-01T00:00:00Z"}).locked

    session = Session.from_dict({"id": SESSION, "user_id": "u", "amr": ["pwd", 3], "ip": None,
                                 "expires_at": "2030-01-01T00:00:00.000Z"})
    assert session.amr == ["pwd"] and session.ip is None and session.expires_at == datetime(2030, 1, 1, tzinfo=timezone.utc)

    inactive = Introspection.from_dict({"active": False})
    assert not inactive and inactive.scopes == [] and inactive.expires_at is None
    active = Introspection.from_dict({"active": True, "scope": "a b", "exp": 1900000000, "iat": 1899999400,
                                      "token_type": "access_token", "aud": "tronch"})
    assert active and active.scopes == ["a", "b"] and active.issued_at is not None
    assert active.expires_at == datetime.fromtimestamp(1900000000, timezone.utc)
