"""Second factors end to end against a live server, with PyOTP as the authenticator app: enrolment
(users.enrol_totp, confirm_totp), a login answered MFA_REQUIRED and finished with complete_mfa (a TOTP code
or a recovery code), refused codes (MFA_INVALID, counted toward the lock), new recovery codes, disabling,
an administrator's reset, step-up (an administrator's session without a second factor making an
administrator), and TRONCH_MFA_REQUIRED_ROLES.

TOTP codes work once per 30-second step, and the code that confirms an enrolment counts as used. Rather than
sleeping until the next step, a second code is the one for the next step, which Tronch accepts because it
allows one step of clock drift either way (RFC 6238 section 5.2); `Authenticator.code` sleeps only when even
that step is used up, which no test here needs.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest

import tronch
from tronch import (
    AuthenticationError,
    ConflictError,
    InvalidCredentialsError,
    MFAEnrollmentRequiredError,
    MFAInvalidError,
    MFARequiredError,
    NotFoundError,
    PermissionDeniedError,
    RecoveryCodes,
    TokenInvalidError,
    TokenPair,
    TOTPEnrolment,
)

from conftest import Person, TronchServer, new_password, no_sleep

try:
    import pyotp
except ImportError as error:  # pragma: no cover - a missing test dependency must fail, never skip
    raise ImportError(
        "the MFA tests need PyOTP (a test dependency of clients/python): pip install -e './clients/python[test]'"
    ) from error

MakePerson = Callable[..., Person]
MakeClient = Callable[..., tronch.Client]

RECOVERY_CODE = re.compile(r"^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$")
STEP = 30


class Authenticator:
    """An authenticator app for one account: PyOTP, and never the code of a step Tronch already accepted."""

    def __init__(self, secret: str) -> None:
        self.totp = pyotp.TOTP(secret)
        self.last_step: Optional[int] = None

    def now(self) -> str:
        """The code the app shows now (``pyotp.TOTP(secret).now()``), remembered as used."""
        code = str(self.totp.now())
        self.last_step = max(self.last_step or -1, int(time.time() // STEP))  # a later step, if one just began
        return code

    def wrong(self) -> str:
        """A code of no step Tronch accepts now."""
        moment = time.time()
        near = {self.totp.at(moment + offset) for offset in (-STEP, 0, STEP)}
        return next(code for code in ("000000", "111111", "222222", "333333") if code not in near)

    def code(self) -> str:
        """A code Tronch has not accepted yet: this step's, else the next step's (within the drift Tronch
        allows), else wait for a step that is free."""
        while True:
            moment = time.time()
            current = int(moment // STEP)
            for step in (current, current + 1):
                if self.last_step is None or step > self.last_step:
                    self.last_step = step
                    return str(self.totp.at(step * STEP))
            time.sleep((current + 1) * STEP - moment + 0.05)

    def used(self) -> str:
        """The code of the last step Tronch accepted (for a replay)."""
        assert self.last_step is not None
        return str(self.totp.at(self.last_step * STEP))


def claims(access_token: str) -> Dict[str, Any]:
    """The payload of a JWT (not verified: test_live_jwt.py checks signatures)."""
    payload = access_token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


@dataclass
class MFAPerson:
    """A person with TOTP enabled, the client of the session in which they enrolled (its amr is ["pwd"]),
    their authenticator app and their recovery codes."""

    person: Person
    client: tronch.Client
    authenticator: Authenticator
    secret: str = field(repr=False)
    recovery_codes: List[str] = field(repr=False)

    @property
    def username(self) -> str:
        return self.person.username

    @property
    def password(self) -> str:
        return self.person.password


MakeMFAPerson = Callable[..., MFAPerson]


def enrol(client: tronch.Client) -> Tuple[Authenticator, str, List[str]]:
    """Enrols and confirms TOTP for the person logged in to ``client``."""
    enrolment = client.users.enrol_totp()
    authenticator = Authenticator(enrolment.secret)
    codes = client.users.confirm_totp(authenticator.now())
    return authenticator, enrolment.secret, codes.codes


@pytest.fixture
def make_mfa_person(make_person: MakePerson, make_client: MakeClient) -> Callable[..., MFAPerson]:
    def make(role: str = "member") -> MFAPerson:
        person = make_person(role=role)
        client = make_client()
        client.login(person.username, password=person.password)
        authenticator, secret, codes = enrol(client)
        return MFAPerson(person, client, authenticator, secret, codes)

    return make


def challenge(client: tronch.Client, username: str, password: str) -> MFARequiredError:
    """A password login that must ask for the second factor."""
    with pytest.raises(MFARequiredError) as info:
        client.login(username, password=password)
    return info.value


# -- enrolment and login ------------------------------------------------------------------------------------


def test_enrol_confirm_and_log_in_with_a_totp_code(make_person: MakePerson, make_client: MakeClient) -> None:
    person = make_person()
    client = make_client()
    first = client.login(person.username, password=person.password)
    assert client.users.me().mfa_enabled is False

    enrolment = client.users.enrol_totp()
    assert isinstance(enrolment, TOTPEnrolment)
    assert re.fullmatch(r"[A-Z2-7]{32}", enrolment.secret), "160 bits of base32 without padding"
    assert enrolment.secret not in repr(enrolment) + str(enrolment)
    parsed = pyotp.parse_uri(enrolment.otpauth_uri)  # the URI an authenticator app reads from the QR code
    assert isinstance(parsed, pyotp.TOTP)
    assert parsed.secret == enrolment.secret and parsed.issuer == "Tronch" and parsed.name == person.username
    assert (parsed.digits, parsed.interval, parsed.digest().name) == (6, 30, "sha1")
    assert client.users.me().mfa_enabled is False, "pending until confirmed"

    authenticator = Authenticator(enrolment.secret)
    with pytest.raises(MFAInvalidError) as wrong:
        client.users.confirm_totp(authenticator.wrong())
    assert wrong.value.status == 401 and wrong.value.code == "MFA_INVALID"
    confirm_code = authenticator.now()
    codes = client.users.confirm_totp(confirm_code)
    assert isinstance(codes, RecoveryCodes) and len(codes) == 10 and len(set(codes)) == 10
    assert all(RECOVERY_CODE.match(code) for code in codes)
    assert client.users.me().mfa_enabled is True
    assert client.session_id == first.session_id, "the session that enrolled goes on"
    with pytest.raises(ConflictError):
        client.users.enrol_totp()  # already enabled: disable first

    # The password alone is no login any more.
    other = make_client()
    error = challenge(other, person.username, person.password)
    assert isinstance(error, AuthenticationError) and (error.status, error.code) == (401, "MFA_REQUIRED")
    assert error.mfa_token and error.mfa_token.startswith("mfa_")
    assert error.methods == ["totp", "recovery_code"]
    assert error.mfa_token not in str(error) + repr(error)
    assert not other.has_access_token and other.token_pair is None

    # The code that confirmed the enrolment counts as used: refused, without killing the mfa_token (five
    # failures do). Each failure, the wrong confirm above too, counts toward the lock (3 here).
    for refused in (confirm_code,):
        with pytest.raises(MFAInvalidError):
            other.complete_mfa(error.mfa_token, code=refused)
        assert not other.has_access_token

    pair = other.complete_mfa(error.mfa_token, code=authenticator.code())
    assert isinstance(pair, TokenPair) and other.token_pair == pair
    assert pair.session_id != first.session_id and pair.expires_in == 600
    assert claims(pair.access_token)["amr"] == ["pwd", "otp"]
    assert claims(first.access_token)["amr"] == ["pwd"]
    assert other.users.me().id == person.id
    assert [s.amr for s in other.sessions.list() if s.id == pair.session_id] == [["pwd", "otp"]]
    # The tokens refresh like any others, and keep their amr.
    refreshed = other.auth.refresh()
    assert claims(refreshed.access_token)["amr"] == ["pwd", "otp"]

    with pytest.raises(MFAInvalidError):
        make_client().complete_mfa(error.mfa_token, code=authenticator.wrong())  # the mfa_token is single use


def test_log_in_with_a_recovery_code(make_mfa_person: MakeMFAPerson, make_client: MakeClient) -> None:
    person = make_mfa_person()
    client = make_client()
    error = challenge(client, person.username, person.password)
    # Case, dashes and spaces do not matter.
    pair = client.complete_mfa(error, recovery_code=person.recovery_codes[0].upper())
    assert claims(pair.access_token)["amr"] == ["pwd", "recovery_code"]
    assert client.users.me().mfa_enabled

    again = challenge(make_client(), person.username, person.password)
    with pytest.raises(MFAInvalidError):
        make_client().complete_mfa(again, recovery_code=person.recovery_codes[0])  # each works once
    pair = make_client().complete_mfa(again, recovery_code=person.recovery_codes[1].replace("-", " "))
    assert claims(pair.access_token)["amr"] == ["pwd", "recovery_code"]


def test_refused_codes_count_toward_the_lock(
    make_mfa_person: MakeMFAPerson, make_client: MakeClient, client: tronch.Client
) -> None:
    person = make_mfa_person()  # the test server locks after 3 failures
    anonymous = make_client()
    error = challenge(anonymous, person.username, person.password)
    with pytest.raises(MFAInvalidError):
        anonymous.complete_mfa("mfa_not-a-live-challenge", code=person.authenticator.wrong())  # not counted
    for _ in range(3):
        with pytest.raises(MFAInvalidError):
            anonymous.complete_mfa(error, code=person.authenticator.wrong())
    assert client.users.get(person.person.id).locked
    # Locked: the right code is refused too (and the challenge ends), and so is the password.
    with pytest.raises(MFAInvalidError):
        anonymous.complete_mfa(error, recovery_code=person.recovery_codes[0])
    with pytest.raises(InvalidCredentialsError):
        anonymous.login(person.username, password=person.password)

    client.users.unlock(person.person.id)
    with pytest.raises(MFAInvalidError):
        anonymous.complete_mfa(error, recovery_code=person.recovery_codes[0])  # the challenge ended with the lock
    fresh = challenge(anonymous, person.username, person.password)
    assert anonymous.complete_mfa(fresh, recovery_code=person.recovery_codes[0]).session_id


# -- managing second factors ----------------------------------------------------------------------------------


def test_new_recovery_codes_and_disabling(make_mfa_person: MakeMFAPerson, make_client: MakeClient) -> None:
    person = make_mfa_person()
    client = person.client
    with pytest.raises(MFAInvalidError):
        client.users.regenerate_recovery_codes(person.authenticator.used())  # already used
    fresh = client.users.regenerate_recovery_codes(person.authenticator.code())
    assert len(fresh) == 10 and set(fresh).isdisjoint(person.recovery_codes)
    error = challenge(make_client(), person.username, person.password)
    with pytest.raises(MFAInvalidError):
        make_client().complete_mfa(error, recovery_code=person.recovery_codes[2])  # the old set died

    with pytest.raises(TypeError):
        client.users.disable_totp()
    # (Two failures so far: a third would lock the account, 3 in these tests, and refuse the next proof.)
    client.users.disable_totp(recovery_code=fresh[0])  # a lost phone
    assert client.users.me().mfa_enabled is False
    plain = make_client().login(person.username, password=person.password)
    assert claims(plain.access_token)["amr"] == ["pwd"]
    with pytest.raises(MFAInvalidError):
        client.users.regenerate_recovery_codes(person.authenticator.totp.now())  # no TOTP any more

    # Enrol again, and disable with a TOTP code this time.
    authenticator, _, _ = enrol(client)
    client.users.disable_totp(code=authenticator.code())
    assert client.users.me().mfa_enabled is False


def test_an_administrator_resets_a_second_factor(
    make_mfa_person: MakeMFAPerson, make_person: MakePerson, make_client: MakeClient, client: tronch.Client
) -> None:
    person = make_mfa_person()
    assert client.users.get(person.person.id).mfa_enabled

    member = make_client()
    other = make_person()
    member.login(other.username, password=other.password)
    with pytest.raises(PermissionDeniedError):
        member.users.reset_mfa(person.person.id)
    with pytest.raises(NotFoundError):
        client.users.reset_mfa(str(uuid.uuid4()))

    client.users.reset_mfa(person.person.id)  # the root key: a key is never asked for a second factor
    assert client.users.get(person.person.id).mfa_enabled is False
    client.users.reset_mfa(person.person.id)  # nothing left to reset: succeeds
    pair = make_client().login(person.username, password=person.password)
    assert claims(pair.access_token)["amr"] == ["pwd"]
    entries = list(client.audit_logs.list(action="mfa.reset", target_id=person.person.id))
    assert entries and all(e.actor.kind == "key" for e in entries)


# -- step-up ------------------------------------------------------------------------------------------------


def test_step_up_for_making_an_administrator(
    make_person: MakePerson, make_mfa_person: MakeMFAPerson, make_client: MakeClient, client: tronch.Client
) -> None:
    admin = make_person(role="admin")
    admin_client = make_client()
    before = admin_client.login(admin.username, password=admin.password)
    tag = uuid.uuid4().hex[:8]

    # Without a second factor: enrol first.
    with pytest.raises(MFAEnrollmentRequiredError) as enrol_first:
        admin_client.users.create(username=f"boss.{tag}", email=f"boss.{tag}@example.com", role="admin")
    assert isinstance(enrol_first.value, PermissionDeniedError) and enrol_first.value.status == 403
    with pytest.raises(MFAEnrollmentRequiredError):
        admin_client.keys.create(name="mighty", scopes=["admin"])
    with pytest.raises(MFAEnrollmentRequiredError):
        admin_client.users.reset_mfa(make_mfa_person().person.id)
    member = admin_client.users.create(username=f"staff.{tag}", email=f"staff.{tag}@example.com")  # no step-up

    # Enrolled in this very session: its amr is still ["pwd"], so the session is asked for a code.
    authenticator, _, _ = enrol(admin_client)
    assert admin_client.session_id == before.session_id
    with pytest.raises(MFARequiredError) as step_up:
        admin_client.users.create(username=f"boss.{tag}", email=f"boss.{tag}@example.com", role="admin")
    assert step_up.value.mfa_token and step_up.value.methods == ["totp", "recovery_code"]
    assert list(client.users.list(q=f"boss.{tag}")) == [], "nothing was created"

    pair = admin_client.complete_mfa(step_up.value, code=authenticator.code())
    assert pair.session_id != before.session_id and admin_client.session_id == pair.session_id
    assert claims(pair.access_token)["amr"] == ["pwd", "otp"]
    # The new session replaces the old one: its tokens stop working.
    stale = make_client()
    stale.use_token(before.access_token)
    with pytest.raises(TokenInvalidError):
        stale.users.me()
    assert before.session_id not in {s.id for s in admin_client.sessions.list()}

    # Repeat the request: it goes through now, and so do the other sensitive actions, without a new code.
    boss = admin_client.users.create(username=f"boss.{tag}", email=f"boss.{tag}@example.com", role="admin")
    assert boss.role == "admin"
    assert admin_client.users.update(member.id, role="admin").role == "admin"
    assert "admin" in admin_client.keys.create(name="mighty", scopes=["admin"]).scopes


def test_step_up_with_a_recovery_code_for_a_key_with_the_scope_admin(
    make_mfa_person: MakeMFAPerson, make_client: MakeClient
) -> None:
    admin = make_mfa_person(role="admin")  # enrolled in a session whose amr is ["pwd"]
    with pytest.raises(MFARequiredError) as step_up:
        admin.client.keys.create(name="root-like", scopes=["admin"])
    admin.client.complete_mfa(step_up.value, recovery_code=admin.recovery_codes[0])
    assert claims(admin.client.token_pair.access_token)["amr"] == ["pwd", "recovery_code"]  # type: ignore[union-attr]
    assert admin.client.keys.create(name="root-like", scopes=["admin"]).scopes == ["admin"]

    # A login with the second factor has it from the start: no step-up.
    fresh = make_client()
    fresh.complete_mfa(challenge(fresh, admin.username, admin.password), recovery_code=admin.recovery_codes[1])
    assert fresh.keys.create(name="also root-like", scopes=["admin"]).scopes == ["admin"]


# -- TRONCH_MFA_REQUIRED_ROLES ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def strict_server(tronch_factory: Callable[..., TronchServer]) -> TronchServer:
    """A server where administrators must use a second factor."""
    return tronch_factory({"TRONCH_MFA_REQUIRED_ROLES": "admin"})


def test_a_role_that_must_use_a_second_factor_enrols_first(strict_server: TronchServer) -> None:
    tag = uuid.uuid4().hex[:8]
    password = new_password()
    with tronch.Client(strict_server.url, api_key=strict_server.root_key, sleep=no_sleep) as root:
        admin = root.users.create(username=f"ada.{tag}", email=f"ada.{tag}@example.com", password=password, role="admin")
        list(root.keys.list())  # the root key belongs to no user: never asked to enrol
    with tronch.Client(strict_server.url, sleep=no_sleep) as client:
        client.set_api_key(None)
        client.login(admin.username, password=password)
        with pytest.raises(MFAEnrollmentRequiredError) as refused:
            list(client.keys.list())
        assert refused.value.code == "MFA_ENROLLMENT_REQUIRED"
        assert client.users.me().id == admin.id  # reading one's account and enrolling stay open
        authenticator, _, codes = enrol(client)
        assert len(codes) == 10
        mine = f"user:{admin.id}"
        assert list(client.keys.list(owner_id=mine)) == []
        with tronch.Client(strict_server.url, sleep=no_sleep) as again:
            again.set_api_key(None)
            again.complete_mfa(challenge(again, admin.username, password), code=authenticator.code())
            assert list(again.keys.list(owner_id=mine)) == []


# -- nothing secret in logs -------------------------------------------------------------------------------------


def test_no_mfa_secret_in_logs_or_errors(
    make_mfa_person: MakeMFAPerson, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("httpx", "httpcore", "tronch"):
        caplog.set_level(logging.DEBUG, logger=name)
    person = make_mfa_person()
    client = make_client()
    error = challenge(client, person.username, person.password)
    with pytest.raises(MFAInvalidError) as refused:
        client.complete_mfa(error, code=person.authenticator.wrong())
    pair = client.complete_mfa(error, code=person.authenticator.code())

    texts = [caplog.text, repr(client), str(error), repr(error), str(refused.value), repr(refused.value)]
    for record in caplog.records:
        texts += [record.getMessage(), repr(record.args), repr(record.__dict__)]
    logged = "\n".join(texts)
    assert "/api/v1/auth/mfa" in caplog.text  # the requests were logged, without their bodies
    secrets = [person.secret, error.mfa_token or "", pair.access_token, pair.refresh_token, person.password,
               *person.recovery_codes]
    for secret in secrets:
        assert secret and secret not in logged

