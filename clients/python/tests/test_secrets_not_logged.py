"""The API key, created secrets, passwords and tokens never show in repr(), str(), exceptions or logs
(httpx, httpcore and tronch at DEBUG)."""

from __future__ import annotations

import asyncio
import logging
import traceback
import uuid
from typing import List

import pytest

import tronch
from tronch import (
    AuthenticationError,
    InvalidCredentialsError,
    RefreshTokenReusedError,
    ServiceUnavailableError,
    SessionRevokedError,
    TokenInvalidError,
    TronchError,
    ValidationError,
)

from stub import StubServer, ok, problem

LOGGERS = ("httpx", "httpcore", "tronch")


def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    parts = [caplog.text]
    for record in caplog.records:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        parts.append(repr(record.__dict__))
    return "\n".join(parts)


def test_repr_of_the_client_hides_the_key(base_url: str, root_key: str) -> None:
    client = tronch.Client(base_url, api_key=root_key)
    try:
        for text in (repr(client), str(client), repr(client.keys), repr(client.audit_logs), repr(client.users),
                     repr(client.sessions), repr(client.auth), repr(client.groups), repr(client.acl_entries),
                     repr(client.authz)):
            assert root_key not in text
            # Not even a recognisable part of it.
            assert root_key[15:23] not in text
        assert "<redacted>" in repr(client)
        client.set_api_key("tronch_sk_live_" + "Z" * 38)
        assert "Z" * 10 not in repr(client)
    finally:
        client.close()


def test_no_key_in_debug_logs(base_url: str, root_key: str, caplog: pytest.LogCaptureFixture) -> None:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    wrong_key = "tronch_sk_live_" + "W" * 38
    with tronch.Client(base_url, api_key=root_key) as client:
        created = client.keys.create(name="secret holder", scopes=["orders:read"])
        client.keys.get(created.id)
        list(client.keys.list(limit=1))
        verdict = client.keys.verify(created.key, scopes=["orders:read"])
        rotated = client.keys.rotate(created.id)
        client.set_api_key(wrong_key)
        with pytest.raises(AuthenticationError) as info:
            client.keys.get(created.id)
        error_text = str(info.value) + repr(info.value) + "".join(traceback.format_exception(
            type(info.value), info.value, info.value.__traceback__))

    assert verdict.valid
    logged = everything_logged(caplog)
    assert "api/v1/keys" in logged, "httpx should have logged the requests"
    assert any(r.name.startswith("httpcore") for r in caplog.records), "httpcore should have logged at DEBUG"
    for secret in (root_key, wrong_key, created.key, rotated.key):
        assert secret not in logged
        assert secret not in error_text
        assert secret not in repr(created) + repr(rotated) + repr(verdict)


def error_text(error: BaseException) -> str:
    return str(error) + repr(error) + "".join(traceback.format_exception(type(error), error, error.__traceback__))


def test_no_password_or_token_in_debug_logs_reprs_or_errors(
    base_url: str, root_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    tag = uuid.uuid4().hex[:10]
    password = f"Quiet Password {tag} one"
    changed = f"Quiet Password {tag} two"
    reset = f"Quiet Password {tag} three"
    wrong = f"Quiet Password {tag} wrong"
    errors: List[TronchError] = []
    texts: List[str] = []

    def expect(kind: type, call: object) -> None:
        with pytest.raises(kind) as info:  # type: ignore[call-overload]
            call()  # type: ignore[operator]
        errors.append(info.value)

    with tronch.Client(base_url, api_key=root_key) as admin, tronch.Client(base_url) as person:
        person.set_api_key(None)
        user = admin.users.create(username=f"quiet{tag}", email=f"quiet{tag}@example.com", password=password)
        expect(InvalidCredentialsError, lambda: person.login(user.username, password=wrong))
        first = person.login(user.username, password=password)
        second = person.auth.refresh()
        expect(RefreshTokenReusedError, lambda: person.auth.refresh(first.refresh_token))
        third = person.login(user.username, password=password)
        person.auth.revoke(third.access_token)
        person.users.me()  # refreshed automatically
        fourth = person.token_pair
        assert fourth is not None and fourth.access_token != third.access_token
        expect(ValidationError, lambda: person.users.change_password(current_password=wrong, new_password=changed))
        expect(ValidationError, lambda: person.users.change_password(current_password=password, new_password="short"))
        person.users.change_password(current_password=password, new_password=changed)
        introspection = admin.auth.introspect(fourth.access_token)
        refresh_introspection = admin.auth.introspect(fourth.refresh_token)
        admin.users.update(user.id, password=reset)
        expect(SessionRevokedError, lambda: person.users.me())
        stale = tronch.Client(base_url, auto_refresh=False)
        stale.use_token(fourth.access_token)
        expect(TokenInvalidError, lambda: stale.users.me())
        texts += [repr(person), str(person), repr(stale), repr(admin)]
        stale.close()
        person.login(user.username, password=reset)
        texts += [repr(person), str(person)]
        sessions = list(person.sessions.list())
        person.auth.logout()
        texts += [repr(p) + str(p) for p in (first, second, third, fourth)]
        texts += [repr(user), repr(introspection), repr(refresh_introspection), repr(sessions), repr(errors)]
        texts += [error_text(e) for e in errors]
        with pytest.raises(ValueError) as bad:
            person.use_token(f"{fourth.access_token} {password}")
        texts.append(error_text(bad.value))

    logged = everything_logged(caplog)
    assert "/api/v1/auth/login" in logged and "/api/v1/auth/refresh" in logged
    assert "refreshing session" in logged  # the automatic refresh is logged, by session id only
    everything = logged + "\n".join(texts)
    secrets = [password, changed, reset, wrong]
    for pair in (first, second, third, fourth):
        secrets += [pair.access_token, pair.refresh_token]
    for secret in secrets:
        assert secret not in everything
    # Not even the signature or the random part of a token.
    for pair in (first, second, third, fourth):
        assert pair.access_token.rsplit(".", 1)[1] not in everything
        assert pair.refresh_token[len("tronch_rt_"):] not in everything


def test_no_key_in_retry_logs(stub: StubServer, caplog: pytest.LogCaptureFixture) -> None:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    api_key = "tronch_sk_live_" + "R" * 38
    stub.script(problem(503, "SERVICE_UNAVAILABLE", "down", retry_after="1"), ok({"id": "x"}),
                problem(503, "SERVICE_UNAVAILABLE", "down", retry_after="999"))
    with tronch.Client(stub.url, api_key=api_key, sleep=lambda s: None) as client:
        client.keys.get("x")
        with pytest.raises(ServiceUnavailableError) as info:
            client.keys.get("x")
    logged = everything_logged(caplog)
    assert "retrying" in logged and "max_retry_wait" in logged
    assert api_key not in logged
    assert api_key not in str(info.value) + repr(info.value)
    assert stub.requests[0].headers["X-API-Key"] == api_key


def test_bad_key_values_are_refused_without_echoing_them() -> None:
    with pytest.raises(ValueError) as info:
        tronch.Client("http://127.0.0.1:1", api_key="tronch_sk_live_secret\nInjected: header")
    assert "secret" not in str(info.value)


def test_async_client_logs_no_key_password_or_token(
    base_url: str, root_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    tag = uuid.uuid4().hex[:10]
    password = f"Quiet Async Password {tag}"
    texts: List[str] = []

    async def main() -> List[tronch.TokenPair]:
        async with tronch.AsyncClient(base_url, api_key=root_key) as admin, tronch.AsyncClient(base_url) as person:
            person.set_api_key(None)
            user = await admin.users.create(username=f"qa{tag}", email=f"qa{tag}@example.com", password=password)
            with pytest.raises(InvalidCredentialsError) as refused:
                await person.login(user.username, password=password + "!")
            first = await person.login(user.username, password=password)
            await person.auth.revoke(first.access_token)
            await person.users.me()  # refreshed automatically
            second = person.token_pair
            assert second is not None
            texts.extend([repr(admin), str(admin), repr(person), repr(person.keys), repr(first), repr(second),
                          error_text(refused.value)])
            await person.logout()
            return [first, second]

    pairs = asyncio.run(main())
    logged = everything_logged(caplog)
    assert "/api/v1/auth/refresh" in logged and "refreshing session" in logged
    everything = logged + "\n".join(texts)
    for secret in [root_key, password] + [t for p in pairs for t in (p.access_token, p.refresh_token)]:
        assert secret not in everything
