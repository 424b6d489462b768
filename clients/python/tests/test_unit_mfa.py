"""Unit tests without a server for second factors: a login answered MFA_REQUIRED, complete_mfa (what it sends,
that it stores the new tokens, and that it never replays), a step-up in the middle of a call, the enrolment
and management requests, and the models."""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, List

import httpx
import pytest

import tronch
from tronch import (
    AuthenticationError,
    MFAEnrollmentRequiredError,
    MFAInvalidError,
    MFARequiredError,
    PermissionDeniedError,
    RecoveryCodes,
    TokenPair,
    TOTPEnrolment,
)

API_KEY = "tronch_sk_live_unitunitunitunitunitunitunitunitunitun"
ACCESS_PWD = "eyJhbGciOiJFUzI1NiJ9.eyJhbXIiOlsicHdkIl19.c2lnbmF0dXJlLW9uZQ"
ACCESS_OTP = "eyJhbGciOiJFUzI1NiJ9.eyJhbXIiOlsicHdkIiwib3RwIl19.c2lnbmF0dXJlLXR3bw"
REFRESH_PWD = "tronch_rt_" + "1" * 43
REFRESH_OTP = "tronch_rt_" + "2" * 43
SESSION_PWD = "01a24a83-2161-7cb2-90a1-812609e72523"
SESSION_OTP = "01a24a83-2161-7cb2-90a1-812609e72524"
MFA_TOKEN = "mfa_SECRETsecretSECRETsecretSECRETsecretSECRET1"
SECRET = "GVXTKMZ2JP4QWYR7HLNA6CDE5FSBU3OI"
URI = f"otpauth://totp/Tronch:alice?secret={SECRET}&issuer=Tronch&algorithm=SHA1&digits=6&period=30"
CODES = [f"aaaa-bbbb-cccc-{i:04d}" for i in range(10)]
ME = {"id": "01a24a83-210a-79eb-8f22-8314b4741e60", "username": "alice", "role": "admin", "status": "active"}


def pair_json(access: str, refresh: str, session: str) -> Dict[str, Any]:
    return {"access_token": access, "token_type": "Bearer", "expires_in": 600, "refresh_token": refresh,
            "session_id": session}


def json_response(status: int, body: Any) -> httpx.Response:
    content_type = "application/problem+json" if status >= 400 else "application/json"
    return httpx.Response(status, json=body, headers={"Content-Type": content_type})


def problem(status: int, code: str, **extra: Any) -> httpx.Response:
    return json_response(status, {"status": status, "code": code, "detail": f"{code.lower()} here", **extra})


def mfa_required() -> httpx.Response:
    return problem(401, "MFA_REQUIRED", mfa_token=MFA_TOKEN, methods=["totp", "recovery_code"])


def mock_client(handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any) -> tronch.Client:
    kwargs.setdefault("sleep", lambda s: None)
    client = tronch.Client("http://tronch.test", transport=httpx.MockTransport(handler), **kwargs)
    if "api_key" not in kwargs:
        client.set_api_key(None)
    return client


def body(request: httpx.Request) -> Any:
    return json.loads(request.content) if request.content else None


class FakeTronch:
    """Answers like Tronch for a person with TOTP: the password login asks for a second factor, /auth/mfa
    takes "123456" or the first recovery code, and creating an administrator needs "otp" in amr."""

    def __init__(self) -> None:
        self.requests: List[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path, sent = request.url.path, body(request)
        authorization = request.headers.get("authorization")
        if path == "/api/v1/auth/login":
            return mfa_required()
        if path == "/api/v1/auth/mfa":
            if sent.get("mfa_token") != MFA_TOKEN or (sent.get("code") or sent.get("recovery_code")) not in ("123456", CODES[0]):
                return problem(401, "MFA_INVALID")
            return json_response(200, pair_json(ACCESS_OTP, REFRESH_OTP, SESSION_OTP))
        if path == "/api/v1/users" and request.method == "POST":
            if authorization == f"Bearer {ACCESS_PWD}":
                return mfa_required()  # step-up: the session has no second factor
            if authorization == f"Bearer {ACCESS_OTP}":
                return json_response(201, dict(ME, id="u2", username=sent["username"]))
            return problem(401, "TOKEN_INVALID")
        if authorization in (f"Bearer {ACCESS_PWD}", f"Bearer {ACCESS_OTP}"):
            return json_response(200, ME)
        return problem(401, "TOKEN_INVALID")


# -- logging in with a second factor ----------------------------------------------------------------------


def test_login_raises_mfa_required_and_keeps_the_credential() -> None:
    fake = FakeTronch()
    with mock_client(fake, api_key=API_KEY) as client:
        with pytest.raises(MFARequiredError) as info:
            client.login("alice", password="correct horse battery staple")
        assert client.has_api_key and not client.has_access_token  # unchanged: no tokens yet
        with pytest.raises(MFARequiredError):
            client.auth.login(email="alice@example.com", password="correct horse battery staple")
    error = info.value
    assert isinstance(error, AuthenticationError) and isinstance(error, tronch.TronchError)
    assert (error.status, error.code) == (401, "MFA_REQUIRED")
    assert error.mfa_token == MFA_TOKEN and error.methods == ["totp", "recovery_code"]
    assert MFA_TOKEN not in str(error) and MFA_TOKEN not in repr(error)


def test_complete_mfa_sends_the_token_and_code_and_stores_the_pair() -> None:
    fake = FakeTronch()
    with mock_client(fake, api_key=API_KEY) as client:
        try:
            client.login("alice", password="pw")
        except MFARequiredError as challenge:
            pair = client.complete_mfa(challenge.mfa_token or "", code="123456")
        assert isinstance(pair, TokenPair)
        assert (pair.access_token, pair.refresh_token, pair.session_id) == (ACCESS_OTP, REFRESH_OTP, SESSION_OTP)
        assert client.token_pair is pair and client.session_id == SESSION_OTP
        assert client.has_access_token and not client.has_api_key
        client.users.me()
    login, mfa, me = fake.requests
    assert "authorization" not in mfa.headers and "x-api-key" not in mfa.headers  # the mfa_token is the credential
    assert (mfa.method, mfa.url.path) == ("POST", "/api/v1/auth/mfa")
    assert body(mfa) == {"mfa_token": MFA_TOKEN, "code": "123456"}
    assert me.headers["authorization"] == f"Bearer {ACCESS_OTP}"


def test_complete_mfa_with_a_recovery_code_or_the_error_itself() -> None:
    fake = FakeTronch()
    with mock_client(fake) as client:
        with pytest.raises(MFARequiredError) as info:
            client.login("alice", password="pw")
        client.complete_mfa(info.value, recovery_code=CODES[0])
        assert client.session_id == SESSION_OTP
    assert body(fake.requests[1]) == {"mfa_token": MFA_TOKEN, "recovery_code": CODES[0]}


def test_auth_complete_mfa_returns_the_pair_without_using_it() -> None:
    fake = FakeTronch()
    with mock_client(fake, api_key=API_KEY) as client:
        pair = client.auth.complete_mfa(MFA_TOKEN, code="123456")
        assert pair.access_token == ACCESS_OTP
        assert client.has_api_key and client.token_pair is None


def test_complete_mfa_needs_exactly_one_proof_and_a_token() -> None:
    fake = FakeTronch()
    with mock_client(fake) as client:
        with pytest.raises(TypeError, match="exactly one of code and recovery_code"):
            client.complete_mfa(MFA_TOKEN)
        with pytest.raises(TypeError, match="exactly one of code and recovery_code"):
            client.auth.complete_mfa(MFA_TOKEN, code="123456", recovery_code=CODES[0])
        with pytest.raises(TypeError):
            client.complete_mfa(MFA_TOKEN, code=123456)  # type: ignore[arg-type]  # a leading 0 would be lost
        no_token = MFARequiredError("mfa_required here", status=401, code="MFA_REQUIRED", body={"code": "MFA_REQUIRED"})
        assert no_token.mfa_token is None and no_token.methods == []
        with pytest.raises(ValueError, match="no mfa_token"):
            client.complete_mfa(no_token, code="123456")
    assert fake.requests == []


def test_a_refused_code_raises_mfa_invalid_and_keeps_the_credential() -> None:
    fake = FakeTronch()
    with mock_client(fake, api_key=API_KEY) as client:
        with pytest.raises(MFAInvalidError) as info:
            client.complete_mfa(MFA_TOKEN, code="000000")
        assert client.has_api_key and not client.has_access_token
    assert isinstance(info.value, AuthenticationError) and info.value.code == "MFA_INVALID"
    assert MFA_TOKEN not in str(info.value) + repr(info.value)


def test_complete_mfa_is_never_replayed_after_a_connection_error() -> None:
    attempts: List[httpx.Request] = []

    def drop(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        raise httpx.ReadError("connection reset", request=request)

    with mock_client(drop, max_retries=3) as client:
        with pytest.raises(tronch.APIConnectionError):
            client.complete_mfa(MFA_TOKEN, code="123456")
        with pytest.raises(tronch.APIConnectionError):
            client.users.disable_totp(recovery_code=CODES[0])  # a DELETE, but its proof is single use
        with pytest.raises(tronch.APIConnectionError):
            client.users.reset_mfa("u1")  # a reset can be repeated: retried like every DELETE
    assert [r.url.path for r in attempts] == ["/api/v1/auth/mfa", "/api/v1/users/me/mfa/totp"] + [
        "/api/v1/users/u1/mfa"
    ] * 4


# -- step-up ------------------------------------------------------------------------------------------------


def test_step_up_then_repeat_the_request() -> None:
    fake = FakeTronch()
    with mock_client(fake) as client:
        client.use_token(TokenPair.from_dict(pair_json(ACCESS_PWD, REFRESH_PWD, SESSION_PWD)))
        with pytest.raises(MFARequiredError) as info:
            client.users.create(username="root2", email="root2@example.com", role="admin")
        assert client.session_id == SESSION_PWD  # nothing changed yet
        client.complete_mfa(info.value, code="123456")
        assert client.session_id == SESSION_OTP and client.token_pair is not None
        assert client.token_pair.refresh_token == REFRESH_OTP
        made = client.users.create(username="root2", email="root2@example.com", role="admin")
    assert made.username == "root2"
    paths = [(r.method, r.url.path, r.headers.get("authorization")) for r in fake.requests]
    assert paths == [
        ("POST", "/api/v1/users", f"Bearer {ACCESS_PWD}"),
        ("POST", "/api/v1/auth/mfa", None),
        ("POST", "/api/v1/users", f"Bearer {ACCESS_OTP}"),
    ]


def test_mfa_errors_by_code() -> None:
    answers = {
        "/api/v1/a": mfa_required(),
        "/api/v1/b": problem(401, "MFA_INVALID"),
        "/api/v1/c": problem(403, "MFA_ENROLLMENT_REQUIRED"),
        "/api/v1/d": problem(401, "MFA_REQUIRED"),  # without the members: still the class, empty fields
    }

    def handler(request: httpx.Request) -> httpx.Response:
        return answers[request.url.path]

    caught: Dict[str, tronch.TronchError] = {}
    with mock_client(handler, max_retries=0) as client:
        for path in answers:
            with pytest.raises(tronch.TronchError) as info:
                client.request("POST", path[len("/api/v1"):])
            caught[path[-1]] = info.value
    assert type(caught["a"]) is MFARequiredError
    assert type(caught["b"]) is MFAInvalidError and isinstance(caught["b"], AuthenticationError)
    assert type(caught["c"]) is MFAEnrollmentRequiredError and isinstance(caught["c"], PermissionDeniedError)
    missing = caught["d"]
    assert isinstance(missing, MFARequiredError) and missing.mfa_token is None and missing.methods == []


# -- enrolment and management -------------------------------------------------------------------------------


def test_enrolment_and_management_requests() -> None:
    seen: List[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        path = request.url.path
        if path == "/api/v1/users/me/mfa/totp" and request.method == "POST":
            return json_response(200, {"secret": SECRET, "otpauth_uri": URI})
        if path in ("/api/v1/users/me/mfa/totp/confirm", "/api/v1/users/me/mfa/recovery-codes"):
            return json_response(200, {"recovery_codes": CODES})
        return httpx.Response(204)

    with mock_client(handler) as client:
        client.use_token(ACCESS_PWD)
        enrolment = client.users.enrol_totp()
        codes = client.users.confirm_totp("123456")
        fresh = client.users.regenerate_recovery_codes("654 321")
        client.users.disable_totp(code="111111")
        client.users.disable_totp(recovery_code=CODES[1])
        client.users.reset_mfa("u/1")
        with pytest.raises(TypeError):
            client.users.disable_totp()
        with pytest.raises(TypeError):
            client.users.disable_totp(code="111111", recovery_code=CODES[1])
        with pytest.raises(ValueError):
            client.users.reset_mfa("")
    assert isinstance(enrolment, TOTPEnrolment) and (enrolment.secret, enrolment.otpauth_uri) == (SECRET, URI)
    assert isinstance(codes, RecoveryCodes) and codes.codes == CODES and list(codes) == CODES and len(codes) == 10
    assert codes[0] == CODES[0] and codes[-1] == CODES[-1]
    assert fresh == codes
    requests = [(r.method, r.url.raw_path.decode(), body(r)) for r in seen]
    assert requests == [
        ("POST", "/api/v1/users/me/mfa/totp", None),
        ("POST", "/api/v1/users/me/mfa/totp/confirm", {"code": "123456"}),
        ("POST", "/api/v1/users/me/mfa/recovery-codes", {"code": "654 321"}),
        ("DELETE", "/api/v1/users/me/mfa/totp", {"code": "111111"}),
        ("DELETE", "/api/v1/users/me/mfa/totp", {"recovery_code": CODES[1]}),
        ("DELETE", "/api/v1/users/u%2F1/mfa", None),
    ]
    assert all(r.headers["authorization"] == f"Bearer {ACCESS_PWD}" for r in seen)


def test_mfa_models_hide_their_secrets() -> None:
    enrolment = TOTPEnrolment.from_dict({"secret": SECRET, "otpauth_uri": URI, "new": 1})
    assert enrolment.raw["new"] == 1
    codes = RecoveryCodes.from_dict({"recovery_codes": CODES + [7]})
    assert codes.codes == CODES  # non-strings dropped
    for text in (repr(enrolment), str(enrolment), repr(codes), str(codes)):
        assert SECRET not in text and "aaaa-bbbb" not in text
    assert "10 codes" in repr(codes)
    assert TOTPEnrolment.from_dict({}).secret == "" and len(RecoveryCodes.from_dict({})) == 0
    assert tronch.Session.from_dict({"amr": ["pwd", "otp"]}).amr == ["pwd", "otp"]
