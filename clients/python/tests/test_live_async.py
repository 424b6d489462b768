"""AsyncClient end to end against a live server (coroutines driven by asyncio.run): keys (create, verify,
list across pages, update, rotate, revoke, usage), the audit log, a login answered MFA_REQUIRED and finished
with complete_mfa (PyOTP as the authenticator app), the automatic refresh after a refusal shared by
concurrent tasks, switching between a key and tokens, logout, and groups, ACL entries and checks."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, Awaitable, Callable, List, TypeVar

import pytest

import tronch
from tronch import (
    AsyncClient,
    ConflictError,
    MFARequiredError,
    NotFoundError,
    PermissionDeniedError,
    TokenPair,
    VerificationCode,
)

from conftest import Person, no_sleep
from test_live_mfa import Authenticator

T = TypeVar("T")
MakePerson = Callable[..., Person]


def run(main: Callable[[], Awaitable[T]]) -> T:
    async def wrapped() -> T:
        return await main()

    return asyncio.run(wrapped())


def anonymous(base_url: str, **kwargs: Any) -> AsyncClient:
    client = AsyncClient(base_url, sleep=no_sleep, **kwargs)
    client.set_api_key(None)  # never TRONCH_API_KEY from the environment
    return client


def test_keys(base_url: str, root_key: str, owner: str, verifier_key: str) -> None:
    async def main() -> None:
        async with AsyncClient(base_url, api_key=root_key, sleep=no_sleep) as client, \
                AsyncClient(base_url, api_key=verifier_key, sleep=no_sleep) as verifier:
            created = [await client.keys.create(name=f"async {i}", owner_id=owner, scopes=["orders:read"],
                                                meta={"n": i}) for i in range(3)]
            assert all(k.key.startswith("tronch_sk_live_") for k in created)

            verdict = await verifier.keys.verify(created[0].key, scopes=["orders:read"])
            assert verdict.valid and verdict.key_id == created[0].id and verdict.owner_id == owner
            refused = await verifier.keys.verify(created[0].key, scopes=["orders:write"])
            assert not refused and refused.code == VerificationCode.INSUFFICIENT_SCOPES

            # Every key across pages of two, newest first; and the pages themselves.
            listed = [k.id async for k in client.keys.list(owner_id=owner, limit=2)]
            assert listed == [k.id for k in reversed(created)]
            pages = [page async for page in client.keys.list(owner_id=owner, limit=2).pages()]
            assert [len(p.data) for p in pages] == [2, 1] and pages[0].next_cursor and pages[1].next_cursor is None

            key = await client.keys.update(created[1].id, name="renamed", meta={"plan": "pro"})
            assert (key.name, key.meta) == ("renamed", {"plan": "pro"})
            assert (await client.keys.get(created[1].id)).name == "renamed"
            rotated = await client.keys.rotate(created[2].id)
            assert rotated.rotated_from == created[2].id and rotated.key != created[2].key
            revoked = await client.keys.revoke(created[0].id)
            assert revoked.status == "revoked"
            after = await verifier.keys.verify(created[0].key)
            assert after.code == VerificationCode.REVOKED
            with pytest.raises(NotFoundError):
                await client.keys.get(str(uuid.uuid4()))

            usage = await client.keys.usage(created[0].id, granularity="minute")
            assert usage.key_id == created[0].id
            entries = [e async for e in client.audit_logs.list(target_id=created[0].id, limit=1)]
            assert {"key.created", "key.revoked"} <= {e.action for e in entries}

    run(main)


def test_login_mfa_required_then_complete_mfa_and_logout(
    base_url: str, root_key: str, make_person: MakePerson
) -> None:
    person = make_person()

    async def main() -> None:
        async with anonymous(base_url) as client, AsyncClient(base_url, api_key=root_key) as admin:
            pair = await client.login(person.username, password=person.password)
            assert client.has_access_token and client.session_id == pair.session_id
            enrolment = await client.users.enrol_totp()
            authenticator = Authenticator(enrolment.secret)
            codes = await client.users.confirm_totp(authenticator.now())
            assert len(codes) == 10 and (await client.users.me()).mfa_enabled
            await client.logout()
            assert not client.has_access_token and client.token_pair is None
            assert not (await admin.auth.introspect(pair.refresh_token)).active

            # A right password is not a login now: the typed error carries the mfa_token.
            with pytest.raises(MFARequiredError) as info:
                await client.login(person.username, password=person.password)
            challenge = info.value
            assert challenge.mfa_token and sorted(challenge.methods) == ["recovery_code", "totp"]
            assert not client.has_access_token
            second = await client.complete_mfa(challenge, code=authenticator.code())
            assert client.token_pair == second and (await client.users.me()).id == person.id
            sessions = [s async for s in client.sessions.list()]
            assert [s.amr for s in sessions if s.id == second.session_id] == [["pwd", "otp"]]

            # A recovery code works once, through the resource-level call that leaves the client alone.
            with pytest.raises(MFARequiredError) as again:
                await client.auth.login(username=person.username, password=person.password)
            third = await client.auth.complete_mfa(again.value.mfa_token or "", recovery_code=codes[0])
            assert client.token_pair == second and third.session_id != second.session_id

            await client.users.disable_totp(code=authenticator.code())
            await client.logout()
            assert not client.has_access_token

    run(main)


def test_concurrent_requests_refresh_once_after_a_refusal(base_url: str, make_person: MakePerson) -> None:
    person = make_person()
    seen: List[TokenPair] = []

    async def main() -> None:
        async with anonymous(base_url, on_refresh=seen.append) as client:
            first = await client.login(person.username, password=person.password)
            # Revoke the access token only: the five requests are refused, and share one refresh.
            await client.auth.revoke(first.access_token, token_type_hint="access_token")
            users = await asyncio.gather(*[client.users.me() for _ in range(5)])
            assert {u.id for u in users} == {person.id}
            assert len(seen) == 1 and client.token_pair == seen[0] and seen[0].session_id == first.session_id
            # The session is alive (a second refresh with the same token would have ended it).
            assert [s.id async for s in client.sessions.list()] == [first.session_id]
            # Also for a POST, which is sent once more after the refresh and so made once.
            await client.auth.revoke(seen[0].access_token)
            created = await client.keys.create(name="after an automatic refresh")
            assert created.owner_id == f"user:{person.id}" and len(seen) == 2
            assert [k.id async for k in client.keys.list()] == [created.id]

    run(main)


def test_switch_between_a_key_and_tokens(base_url: str, make_person: MakePerson) -> None:
    person = make_person()

    async def main() -> None:
        async with anonymous(base_url) as client:
            pair = await client.login(person.username, password=person.password)
            own = await client.keys.create(name="async cli key", scopes=["keys:read"])
            assert own.owner_id == f"user:{person.id}"

            client.set_api_key(own.key)  # acts as the person, narrowed to the key's scopes
            assert client.has_api_key and not client.has_access_token
            assert (await client.users.me()).id == person.id
            assert [k.id async for k in client.keys.list()] == [own.id]
            with pytest.raises(PermissionDeniedError):
                await client.keys.create(name="needs keys:write")

            client.set_access_token(pair.access_token, pair.refresh_token)  # back to the tokens, as strings
            assert client.has_access_token and not client.has_api_key
            assert (await client.keys.create(name="with the token again")).owner_id == f"user:{person.id}"
            await client.auth.revoke(pair.access_token)
            assert (await client.users.me()).id == person.id  # refreshed with the string refresh token
            assert client.token_pair is not None and client.session_id == pair.session_id
            await client.logout()

    run(main)


def test_groups_acl_entries_and_checks(base_url: str, root_key: str, make_person: MakePerson) -> None:
    person = make_person()
    tag = uuid.uuid4().hex[:8]

    async def main() -> None:
        async with AsyncClient(base_url, api_key=root_key, sleep=no_sleep) as admin:
            group = await admin.groups.create(name=f"async engineers {tag}", description="d")
            nested = await admin.groups.create(name=f"async web {tag}")
            assert await admin.groups.add_member(group.id, nested) is True
            assert await admin.groups.add_member(nested.id, person.user) is True
            assert await admin.groups.add_member(nested.id, person.user) is False
            members = [m.principal async for m in admin.groups.members(nested.id, limit=1)]
            assert members == [person.user.principal]
            assert [g.id async for g in admin.groups.list(q=f"async web {tag}")] == [nested.id]
            renamed = await admin.groups.update(nested.id, name=f"async website {tag}", description=None)
            assert renamed.name == f"async website {tag}" and renamed.description is None
            with pytest.raises(ConflictError):
                await admin.groups.create(name=f"ASYNC ENGINEERS {tag}")

            resource = f"project:async{tag}"
            entry = await admin.acl_entries.create(resource=resource, principal=group, action="read",
                                                   effect="allow", kind="dacl")
            deny = await admin.acl_entries.create(resource=f"{resource}/secrets", principal=person.user,
                                                  action="*", effect="deny")
            assert (await admin.acl_entries.get(entry.id)).kind == "dacl"
            found = [e.id async for e in admin.acl_entries.list(resource=f"{resource}/secrets",
                                                                 include_ancestors=True)]
            assert sorted(found) == sorted([entry.id, deny.id])

            decision = await admin.authz.check(person.user, "read", f"{resource}/web")
            assert decision and decision.rule == "dacl_allow" and decision.entry_id == entry.id
            batch = await admin.authz.check_batch([
                (person.user, "read", f"{resource}/secrets"),
                {"principal": person.user.principal, "action": "write", "resource": f"{resource}/web"},
            ])
            assert [(d.allowed, d.rule) for d in batch] == [(False, "acl_deny"), (False, "fallback")]
            assert await admin.authz.check_batch([]) == []

            await admin.acl_entries.delete(entry.id)
            assert not await admin.authz.check(person.user, "read", f"{resource}/web")
            await admin.groups.remove_member(nested.id, person.user)
            with pytest.raises(NotFoundError):
                await admin.groups.remove_member(nested.id, person.user)
            await admin.acl_entries.delete(deny.id)
            await admin.groups.delete(nested.id)
            await admin.groups.delete(group.id)
            with pytest.raises(NotFoundError):
                await admin.groups.get(group.id)

    run(main)


def test_users_as_an_administrator(base_url: str, root_key: str) -> None:
    name = f"a{uuid.uuid4().hex[:12]}"

    async def main() -> None:
        async with AsyncClient(base_url, api_key=root_key, sleep=no_sleep) as admin:
            user = await admin.users.create(username=name, email=f"{name}@example.com", role="viewer")
            assert [u.id async for u in admin.users.list(q=name)] == [user.id]
            assert (await admin.users.get(user.id)).role == "viewer"
            assert (await admin.users.update(user.id, display_name="A. Sync")).display_name == "A. Sync"
            assert (await admin.users.unlock(user.id)).id == user.id
            await admin.users.reset_mfa(user.id)
            assert (await admin.users.delete(user.id)).id == user.id
            with pytest.raises(NotFoundError):
                await admin.users.get(user.id)
            assert "keys" in await admin.auth.jwks() and "issuer" in await admin.auth.metadata()

    run(main)
