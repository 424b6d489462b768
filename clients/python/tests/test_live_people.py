"""People, logins, tokens and sessions end to end against a live server: client.login / use_token,
client.auth (refresh with reuse detection, logout, revoke, introspect), automatic refresh, client.sessions,
client.users (CRUD, me, change_password, lockout and unlock), and what a member may reach."""

from __future__ import annotations

import itertools
import re
import uuid
from datetime import datetime, timezone
from typing import Callable, List

import pytest

import tronch
from tronch import (
    AuthenticationError,
    ConflictError,
    Introspection,
    InvalidCredentialsError,
    NotFoundError,
    PermissionDeniedError,
    RefreshTokenReusedError,
    Session,
    SessionRevokedError,
    TokenInvalidError,
    TokenPair,
    User,
    ValidationError,
)

from conftest import Person, TronchServer, new_password

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$")
JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")

MakePerson = Callable[..., Person]
MakeClient = Callable[..., tronch.Client]


# -- logging in ------------------------------------------------------------------------------------------


def test_login_sends_the_access_token_from_then_on(make_person: MakePerson, make_client: MakeClient) -> None:
    person = make_person(display_name="Ada L.")
    client = make_client()
    assert not client.has_access_token and client.token_pair is None

    pair = client.login(person.username, password=person.password)
    assert isinstance(pair, TokenPair)
    assert JWT.match(pair.access_token)
    assert pair.refresh_token.startswith("tronch_rt_") and len(pair.refresh_token) == len("tronch_rt_") + 43
    assert pair.token_type == "Bearer"
    assert pair.expires_in == 600
    assert UUID.match(pair.session_id)
    assert pair.expires_at is not None and pair.expires_at > datetime.now(timezone.utc)
    for text in (repr(pair), str(pair)):
        assert pair.access_token not in text and pair.refresh_token not in text
        assert pair.session_id in text
    assert client.has_access_token and not client.has_api_key
    assert client.token_pair == pair and client.session_id == pair.session_id

    me = client.users.me()
    assert isinstance(me, User)
    assert (me.id, me.username, me.role, me.display_name) == (person.id, person.username, "member", "Ada L.")
    assert me.last_login_at is not None
    # The access token works on the key routes too: a member's keys are their own.
    created = client.keys.create(name="made with a token", scopes=["orders:read"])
    assert created.owner_id == f"user:{person.id}"
    assert created.created_by == f"user:{person.id}"


def test_login_by_email_and_by_username_in_any_case(make_person: MakePerson, make_client: MakeClient) -> None:
    person = make_person()
    assert person.email.endswith("@example.com")  # the domain is lower-cased, the local part kept
    by_email = make_client().auth.login(email=person.email.upper().replace("EXAMPLE.COM", "Example.Com"),
                                        password=person.password)
    by_name = make_client().auth.login(username=person.username.upper(), password=person.password)
    assert by_email.session_id != by_name.session_id

    with pytest.raises(TypeError):
        make_client().auth.login(password=person.password)
    with pytest.raises(TypeError):
        make_client().auth.login(username=person.username, email=person.email, password=person.password)


def test_every_refused_login_is_invalid_credentials(
    make_person: MakePerson, make_client: MakeClient, client: tronch.Client
) -> None:
    person = make_person()
    disabled = make_person()
    client.users.update(disabled.id, status="disabled")
    attempts = [
        (person.username, "not the password at all"),
        (f"nobody{uuid.uuid4().hex[:8]}", person.password),
        (disabled.username, disabled.password),
    ]
    answers = []
    for username, password in attempts:
        anonymous = make_client()
        with pytest.raises(InvalidCredentialsError) as info:
            anonymous.login(username, password=password)
        error = info.value
        assert isinstance(error, AuthenticationError)
        assert error.status == 401 and error.code == "INVALID_CREDENTIALS"
        assert error.headers.get("www-authenticate", "").startswith("Bearer")
        assert not anonymous.has_access_token
        answers.append(error.detail)
    assert len(set(answers)) == 1  # the same answer whatever was wrong


def test_switch_from_a_token_to_an_api_key(make_person: MakePerson, make_client: MakeClient) -> None:
    person = make_person()
    client = make_client()
    client.login(person.username, password=person.password)
    own_key = client.keys.create(name="cli key", scopes=["keys:read"])

    client.set_api_key(own_key.key)
    assert client.has_api_key and not client.has_access_token and client.token_pair is None
    # A key a user owns acts as that user (with at most their rights, narrowed by its scopes).
    assert client.users.me().id == person.id
    assert [k.id for k in client.keys.list()] == [own_key.id]
    with pytest.raises(PermissionDeniedError):
        client.keys.create(name="needs keys:write")

    # And back: a token again.
    client.use_token(client.auth.login(username=person.username, password=person.password))
    assert client.has_access_token and not client.has_api_key
    assert client.keys.create(name="with the token again").owner_id == f"user:{person.id}"


def test_use_token_with_an_access_token_string(make_person: MakePerson, make_client: MakeClient) -> None:
    person = make_person()
    pair = make_client().auth.login(username=person.username, password=person.password)
    client = make_client()
    client.use_token(pair.access_token)
    assert client.users.me().id == person.id
    assert client.token_pair is None and client.session_id is None
    with pytest.raises(ValueError, match="no refresh token"):
        client.auth.refresh()
    with pytest.raises(ValueError):
        client.use_token("eyJ not a token")


# -- refresh, reuse, logout, revoke ---------------------------------------------------------------------


def test_refresh_rotates_and_a_reused_refresh_token_ends_the_session(
    make_person: MakePerson, make_client: MakeClient
) -> None:
    person = make_person()
    auth = make_client().auth
    first = auth.login(username=person.username, password=person.password)
    second = auth.refresh(first.refresh_token)
    assert second.session_id == first.session_id
    assert second.refresh_token != first.refresh_token and second.access_token != first.access_token

    # The first refresh token is dead; presenting it again looks like theft and ends the session.
    with pytest.raises(RefreshTokenReusedError) as info:
        auth.refresh(first.refresh_token)
    assert isinstance(info.value, SessionRevokedError)
    assert info.value.status == 401 and info.value.code == "REFRESH_TOKEN_REUSED"
    assert 'error="invalid_token"' in info.value.headers.get("www-authenticate", "")

    with pytest.raises(SessionRevokedError) as ended:
        auth.refresh(second.refresh_token)
    assert ended.value.code == "SESSION_REVOKED" and not isinstance(ended.value, RefreshTokenReusedError)
    victim = make_client()
    victim.use_token(second.access_token)  # no refresh token: the refusal itself is raised
    with pytest.raises(TokenInvalidError) as refused:
        victim.users.me()  # the session's access tokens are refused too (its sid is denied)
    assert refused.value.code == "TOKEN_INVALID"

    with pytest.raises(TokenInvalidError):
        auth.refresh("tronch_rt_" + "x" * 43)


def test_client_refreshes_its_own_tokens(make_person: MakePerson, make_client: MakeClient) -> None:
    person = make_person()
    seen: List[TokenPair] = []
    client = make_client(on_refresh=seen.append)
    first = client.login(person.username, password=person.password)

    second = client.auth.refresh()
    assert client.token_pair == second and seen == [second]
    assert second.session_id == first.session_id
    assert client.users.me().id == person.id

    # A refresh with someone else's refresh token leaves the client's tokens alone.
    other = make_client().auth.login(username=person.username, password=person.password)
    third = client.auth.refresh(other.refresh_token)
    assert third.session_id == other.session_id
    assert client.token_pair == second and seen == [second]


def test_automatic_refresh_after_the_access_token_is_refused(
    make_person: MakePerson, make_client: MakeClient
) -> None:
    person = make_person()
    seen: List[TokenPair] = []
    client = make_client(on_refresh=seen.append)
    first = client.login(person.username, password=person.password)

    # Revoke the access token only (RFC 7009): the refresh token still works, so the client refreshes once
    # and sends the request again.
    client.auth.revoke(first.access_token, token_type_hint="access_token")
    assert client.users.me().id == person.id
    assert len(seen) == 1 and client.token_pair == seen[0]
    assert seen[0].session_id == first.session_id and seen[0].access_token != first.access_token

    # Also for a POST: the refused token never reached the route.
    client.auth.revoke(seen[0].access_token)
    created = client.keys.create(name="after an automatic refresh")
    assert created.owner_id == f"user:{person.id}"
    assert len(seen) == 2
    assert [k.id for k in client.keys.list()] == [created.id]  # created once

    # Without auto_refresh the refusal is raised.
    manual = make_client(auto_refresh=False)
    pair = manual.login(person.username, password=person.password)
    manual.auth.revoke(pair.access_token)
    with pytest.raises(TokenInvalidError):
        manual.users.me()
    assert manual.token_pair == pair


def test_automatic_refresh_raises_when_the_session_has_ended(
    make_person: MakePerson, make_client: MakeClient, client: tronch.Client
) -> None:
    person = make_person()
    user_client = make_client()
    pair = user_client.login(person.username, password=person.password)
    client.sessions.revoke(pair.session_id)  # an administrator ends the session

    with pytest.raises(SessionRevokedError):
        user_client.users.me()  # TOKEN_INVALID, then the refresh answers SESSION_REVOKED
    # The dead refresh token is never presented again: the next call just gets TOKEN_INVALID.
    assert user_client.token_pair is None and user_client.has_access_token
    with pytest.raises(TokenInvalidError):
        user_client.users.me()


def test_logout_ends_the_session(make_person: MakePerson, make_client: MakeClient) -> None:
    person = make_person()
    client = make_client()
    pair = client.login(person.username, password=person.password)
    client.auth.logout()
    assert not client.has_access_token and client.token_pair is None

    stale = make_client()
    stale.use_token(pair)
    with pytest.raises(SessionRevokedError):
        stale.users.me()  # the access token is refused, and so is the refresh
    with pytest.raises(SessionRevokedError):
        make_client().auth.refresh(pair.refresh_token)


def test_revoke_a_refresh_token_ends_its_session(make_person: MakePerson, make_client: MakeClient) -> None:
    person = make_person()
    client = make_client()
    pair = client.login(person.username, password=person.password)
    other = make_client().auth  # revoking needs no credential
    other.revoke(pair.refresh_token, token_type_hint="refresh_token")
    with pytest.raises(SessionRevokedError):
        client.users.me()

    # Anything else is accepted too (RFC 7009), whatever the hint: a hint is only a hint (RFC 7009 §2.1).
    other.revoke("not a token at all")
    other.revoke(pair.refresh_token)
    other.revoke("whatever", token_type_hint="id_token")

    # Revoking the client's own refresh token forgets the client's tokens.
    own = make_client()
    own_pair = own.login(person.username, password=person.password)
    own.auth.revoke(own_pair.refresh_token)
    assert not own.has_access_token


def test_introspect(
    make_person: MakePerson, make_client: MakeClient, client: tronch.Client, tronch_server: TronchServer
) -> None:
    person = make_person()
    user_client = make_client()
    pair = user_client.login(person.username, password=person.password)

    access = client.auth.introspect(pair.access_token)
    assert isinstance(access, Introspection) and access and access.active
    assert access.token_type == "access_token"
    assert access.sub == person.id and access.sid == pair.session_id
    assert access.scope == "* keys:read keys:write" and access.scopes == ["*", "keys:read", "keys:write"]
    assert access.iss == tronch_server.url and access.aud == "tronch"
    assert access.jti and UUID.match(access.jti)
    assert access.exp is not None and access.iat is not None and access.exp - access.iat == 600
    assert access.expires_at == datetime.fromtimestamp(access.exp, timezone.utc)
    assert "role" not in access.raw and "groups" not in access.raw

    refresh = client.auth.introspect(pair.refresh_token)
    assert refresh.active and refresh.token_type == "refresh_token"
    assert refresh.sub == person.id and refresh.sid == pair.session_id and refresh.jti is None

    for token in ("garbage", pair.access_token[:-4] + "AAAA", "tronch_rt_" + "y" * 43):
        inactive = client.auth.introspect(token)
        assert not inactive and inactive.active is False and inactive.sub is None
        assert inactive.raw == {"active": False}

    # A key with tokens:introspect may introspect; a member's token may not.
    introspector = client.keys.create(name="resource server", scopes=["tokens:introspect"])
    assert make_client(api_key=introspector.key).auth.introspect(pair.access_token).active
    with pytest.raises(PermissionDeniedError):
        user_client.auth.introspect(pair.access_token)

    user_client.auth.logout()
    assert not client.auth.introspect(pair.access_token).active
    assert not client.auth.introspect(pair.refresh_token).active


def test_well_known_documents(make_client: MakeClient, tronch_server: TronchServer) -> None:
    auth = make_client().auth
    jwks = auth.jwks()
    assert jwks["keys"] and all(k["kty"] == "EC" and k["alg"] == "ES256" and k["kid"] for k in jwks["keys"])
    metadata = auth.metadata()
    assert metadata["issuer"] == tronch_server.url
    assert metadata["jwks_uri"] == tronch_server.url + "/.well-known/jwks.json"
    assert metadata["revocation_endpoint"].endswith("/api/v1/auth/revoke")
    assert metadata["introspection_endpoint"].endswith("/api/v1/auth/introspect")


# -- sessions ---------------------------------------------------------------------------------------------


def test_sessions_list_and_revoke(make_person: MakePerson, make_client: MakeClient, client: tronch.Client) -> None:
    person = make_person()
    laptop, phone = make_client(), make_client()
    laptop_pair = laptop.login(person.username, password=person.password)
    phone_pair = phone.login(person.username, password=person.password)

    sessions = list(laptop.sessions.list())
    assert all(isinstance(s, Session) for s in sessions)
    assert {s.id for s in sessions} == {laptop_pair.session_id, phone_pair.session_id}
    for session in sessions:
        assert session.user_id == person.id and session.amr == ["pwd"] and session.ip == "127.0.0.1"
        assert session.user_agent and session.user_agent.startswith("tronch-python/")
        assert session.created_at and session.last_seen_at and session.expires_at
        assert session.expires_at > session.created_at
    pages = list(laptop.sessions.list(limit=1).pages())
    assert [len(p.data) for p in pages] == [1, 1] and pages[-1].next_cursor is None

    # An administrator lists anyone's sessions; a member only their own.
    assert {s.id for s in client.sessions.list(user_id=person.id)} == {laptop_pair.session_id, phone_pair.session_id}
    other = make_person()
    with pytest.raises(PermissionDeniedError):
        list(laptop.sessions.list(user_id=other.id))
    other_pair = make_client().auth.login(username=other.username, password=other.password)
    with pytest.raises(NotFoundError):
        laptop.sessions.revoke(other_pair.session_id)

    # Signing out the phone from the laptop: the phone's tokens stop working at once.
    laptop.sessions.revoke(phone_pair.session_id)
    laptop.sessions.revoke(phone_pair.session_id)  # again: nothing left to do, still fine
    with pytest.raises(SessionRevokedError):
        phone.users.me()
    assert [s.id for s in laptop.sessions.list()] == [laptop_pair.session_id]

    # Ending its own session forgets the client's tokens.
    laptop.sessions.revoke(laptop_pair.session_id)
    assert not laptop.has_access_token
    with pytest.raises(ValidationError):
        client.sessions.revoke("not-a-session-id")


# -- users ------------------------------------------------------------------------------------------------


def test_users_create_get_list_update_delete(client: tronch.Client) -> None:
    tag = uuid.uuid4().hex[:8]
    created = client.users.create(
        username=f"Grace.{tag}", email=f"Grace.{tag}@Navy.MIL", password=new_password(),
        display_name="Grace H.", role="viewer",
    )
    assert isinstance(created, User)
    assert UUID.match(created.id)
    assert created.username == f"grace.{tag}"  # stored lower-cased
    assert created.email == f"Grace.{tag}@navy.mil"  # the domain lower-cased, the local part kept
    assert (created.display_name, created.role, created.status) == ("Grace H.", "viewer", "active")
    assert created.locked_until is None and not created.locked and created.mfa_enabled is False
    assert created.created_at and created.updated_at and created.last_login_at is None
    assert "password" not in str(created.raw)

    assert client.users.get(created.id) == created
    assert client.users.get(created.id.upper()).id == created.id
    passwordless = client.users.create(username=f"hopper.{tag}", email=f"hopper.{tag}@example.com")
    assert passwordless.role == "member" and passwordless.display_name is None

    # q matches the username, e-mail address or display name, case-insensitively.
    assert {u.id for u in client.users.list(q=tag.upper())} == {created.id, passwordless.id}
    assert [u.id for u in client.users.list(q=tag, role="viewer")] == [created.id]
    pages = list(client.users.list(q=tag, limit=1).pages())
    assert [len(p.data) for p in pages] == [1, 1]
    newest_first = list(itertools.islice(client.users.list(q=tag, limit=1), 2))
    assert [u.id for u in newest_first] == [passwordless.id, created.id]

    updated = client.users.update(created.id, display_name="Rear Admiral Hopper", role="member", status="disabled")
    assert (updated.display_name, updated.role, updated.status) == ("Rear Admiral Hopper", "member", "disabled")
    assert [u.id for u in client.users.list(q=tag, status="disabled")] == [created.id]
    cleared = client.users.update(created.id, display_name=None, status="active")
    assert cleared.display_name is None and cleared.status == "active"
    assert client.users.update(created.id).updated_at is not None  # nothing sent, nothing changed

    with pytest.raises(ConflictError) as taken:
        client.users.create(username=f"GRACE.{tag}", email=f"other.{tag}@example.com")
    assert [e.field for e in taken.value.errors] == ["username"]
    with pytest.raises(ConflictError):
        client.users.create(username=f"other.{tag}", email=f"grace.{tag}@NAVY.mil")
    with pytest.raises(ValidationError) as invalid:
        client.users.create(username="x", email="not an address", password="short", display_name="")
    assert {e.field for e in invalid.value.errors} >= {"username", "email"}
    with pytest.raises(ValidationError) as weak:
        client.users.create(username=f"weak.{tag}", email=f"weak.{tag}@example.com", password=f"weak.{tag} is me")
    assert [e.field for e in weak.value.errors] == ["password"]
    with pytest.raises(ValidationError):
        client.users.update(created.id, role="superuser")

    deleted = client.users.delete(created.id)
    assert deleted.id == created.id
    with pytest.raises(NotFoundError):
        client.users.get(created.id)
    with pytest.raises(NotFoundError):
        client.users.delete(created.id)
    with pytest.raises(ValidationError):
        client.users.get("grace")
    client.users.delete(passwordless.id)


def test_a_member_manages_only_their_own_account(
    make_person: MakePerson, make_client: MakeClient, client: tronch.Client
) -> None:
    person = make_person()
    other = make_person()
    member = make_client()
    member.login(person.username, password=person.password)

    assert member.users.get(person.id).id == person.id
    assert member.users.update(person.id, display_name="Just Me").display_name == "Just Me"
    with pytest.raises(PermissionDeniedError):
        member.users.update(person.id, role="admin")
    with pytest.raises(NotFoundError):
        member.users.get(other.id)
    with pytest.raises(PermissionDeniedError):
        list(member.users.list())
    with pytest.raises(PermissionDeniedError):
        member.users.create(username=f"x{uuid.uuid4().hex[:8]}", email="x@example.com")
    with pytest.raises(PermissionDeniedError):
        member.users.delete(other.id)
    with pytest.raises(PermissionDeniedError):
        member.users.unlock(other.id)
    # The root key belongs to no user.
    with pytest.raises(NotFoundError):
        client.users.me()


def test_an_admin_token_manages_users(make_person: MakePerson, make_client: MakeClient) -> None:
    admin = make_person(role="admin")
    admin_client = make_client()
    admin_client.login(admin.username, password=admin.password)
    assert admin_client.auth.introspect(admin_client.token_pair.access_token).scope == "admin"  # type: ignore[union-attr]
    tag = uuid.uuid4().hex[:8]
    made = admin_client.users.create(username=f"made.{tag}", email=f"made.{tag}@example.com")
    assert made.id in {u.id for u in admin_client.users.list(q=tag)}
    admin_client.users.delete(made.id)


def test_change_password(make_person: MakePerson, make_client: MakeClient) -> None:
    person = make_person()
    current, elsewhere = make_client(), make_client()
    current.login(person.username, password=person.password)
    elsewhere.login(person.username, password=person.password)

    with pytest.raises(ValidationError) as wrong:
        current.users.change_password(current_password="not my password", new_password=new_password())
    assert [e.field for e in wrong.value.errors] == ["current_password"]
    with pytest.raises(ValidationError) as short:
        current.users.change_password(current_password=person.password, new_password="too short")
    assert [e.field for e in short.value.errors] == ["new_password"]
    with pytest.raises(ValidationError) as personal:
        current.users.change_password(current_password=person.password, new_password=f"{person.username} rocks")
    assert [e.field for e in personal.value.errors] == ["new_password"]

    changed = new_password()
    current.users.change_password(current_password=person.password, new_password=changed)
    # The session that changed it goes on; the others end.
    assert current.users.me().id == person.id
    with pytest.raises(SessionRevokedError):
        elsewhere.users.me()
    with pytest.raises(InvalidCredentialsError):
        make_client().auth.login(username=person.username, password=person.password)
    make_client().auth.login(username=person.username, password=changed)


def test_an_administrators_reset_and_disabling_end_sessions(
    make_person: MakePerson, make_client: MakeClient, client: tronch.Client
) -> None:
    person = make_person()
    user_client = make_client()
    user_client.login(person.username, password=person.password)
    key = user_client.keys.create(name="to be revoked with its owner")

    reset = new_password()
    client.users.update(person.id, password=reset)
    with pytest.raises(SessionRevokedError):
        user_client.users.me()
    user_client.login(person.username, password=reset)

    client.users.update(person.id, status="disabled")
    with pytest.raises(AuthenticationError):
        user_client.users.me()
    assert client.keys.get(key.id).status == "revoked"
    with pytest.raises(InvalidCredentialsError):
        make_client().login(person.username, password=reset)


def test_lockout_and_unlock(make_person: MakePerson, make_client: MakeClient, client: tronch.Client) -> None:
    person = make_person()  # the test server locks after 3 failures (TRONCH_LOCKOUT_THRESHOLD=3)
    anonymous = make_client().auth
    for _ in range(3):
        with pytest.raises(InvalidCredentialsError):
            anonymous.login(username=person.username, password="wrong password, again")
    locked = client.users.get(person.id)
    assert locked.locked_until is not None and locked.locked
    assert 0 < (locked.locked_until - datetime.now(timezone.utc)).total_seconds() <= 60

    # While locked even the right password is refused, with the same answer.
    with pytest.raises(InvalidCredentialsError):
        anonymous.login(username=person.username, password=person.password)

    unlocked = client.users.unlock(person.id)
    assert unlocked.locked_until is None and not unlocked.locked
    assert anonymous.login(username=person.username, password=person.password).session_id

    # A success resets the count: two failures after it do not lock.
    for _ in range(2):
        with pytest.raises(InvalidCredentialsError):
            anonymous.login(username=person.username, password="wrong password, again")
    assert anonymous.login(username=person.username, password=person.password).session_id


def test_members_see_only_their_own_keys(
    make_person: MakePerson, make_client: MakeClient, client: tronch.Client
) -> None:
    alice, bob, viewer = make_person(), make_person(), make_person(role="viewer")
    alice_client, bob_client, viewer_client = make_client(), make_client(), make_client()
    alice_client.login(alice.username, password=alice.password)
    bob_client.login(bob.username, password=bob.password)
    viewer_client.login(viewer.username, password=viewer.password)

    alice_key = alice_client.keys.create(name="alice's", scopes=["orders:read"])
    bob_key = bob_client.keys.create(name="bob's")
    customer_key = client.keys.create(name="a customer's", owner_id=f"cus_{uuid.uuid4().hex[:8]}")

    assert [k.id for k in alice_client.keys.list()] == [alice_key.id]
    assert [k.id for k in bob_client.keys.list()] == [bob_key.id]
    for foreign in (bob_key.id, customer_key.id):
        with pytest.raises(NotFoundError):
            alice_client.keys.get(foreign)
        with pytest.raises(NotFoundError):
            alice_client.keys.revoke(foreign)
    with pytest.raises(PermissionDeniedError):
        list(alice_client.keys.list(owner_id=f"user:{bob.id}"))
    with pytest.raises(PermissionDeniedError):
        alice_client.keys.create(name="for bob", owner_id=f"user:{bob.id}")
    with pytest.raises(PermissionDeniedError):
        alice_client.keys.create(name="too mighty", scopes=["admin"])
    with pytest.raises(PermissionDeniedError):
        list(alice_client.audit_logs.list())

    # A viewer reads their own keys and creates none.
    assert list(viewer_client.keys.list()) == []
    with pytest.raises(PermissionDeniedError):
        viewer_client.keys.create(name="viewer's")

    # An administrator sees everyone's.
    assert {alice_key.id, bob_key.id, customer_key.id} <= {k.id for k in client.keys.list()}
    assert [k.id for k in client.keys.list(owner_id=f"user:{alice.id}")] == [alice_key.id]
