"""Keys that sign their requests, end to end against a live server: signing_secret, sign_request and
SigningAuth on the client's side, keys.verify(..., request=...) on the API's, and every signature code."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Iterator, List, Tuple

import httpx
import pytest

import tronch
from tronch import CreatedKey, SigningAuth, VerificationCode, sign_request, signed_request_from

URL = "https://api.example.com/orders?expand=items"
BODY = b'{"sku":"A-1","quantity":2}'


@pytest.fixture
def signing_key(client: tronch.Client, owner: str) -> CreatedKey:
    return client.keys.create(name="signing test", owner_id=owner, scopes=["orders:write"], signing=True)


@pytest.fixture
def verifier(base_url: str, verifier_key: str) -> Iterator[tronch.Client]:
    """What an API uses: a client with a key that holds only keys:verify."""
    with tronch.Client(base_url, api_key=verifier_key, max_retries=0) as c:
        yield c


def signed(key: CreatedKey, method: str = "POST", url: str = URL, body: bytes = BODY, **kwargs: Any) -> Dict[str, str]:
    assert key.signing_secret is not None
    return sign_request(method, url, body, secret=key.signing_secret, **kwargs)


def test_a_signing_key_has_a_signing_secret(client: tronch.Client, signing_key: CreatedKey) -> None:
    assert signing_key.signing is True
    secret = signing_key.signing_secret
    assert secret is not None and len(secret) == 43 and "=" not in secret
    assert secret not in repr(signing_key) and secret not in str(signing_key)
    fetched = client.keys.get(signing_key.id)
    assert fetched.signing is True and "signing_secret" not in fetched.raw
    plain = client.keys.create(name="plain")
    assert plain.signing is False and plain.signing_secret is None
    assert client.keys.get(plain.id).signing is False


def test_sign_then_verify_once(verifier: tronch.Client, signing_key: CreatedKey) -> None:
    headers = signed(signing_key)
    request = signed_request_from("POST", URL, {"Content-Type": "application/json", **headers}, BODY)
    verdict = verifier.keys.verify(signing_key.key, scopes=["orders:write"], request=request)
    assert verdict.valid and verdict.code == VerificationCode.VALID, verdict
    assert verdict.key_id == signing_key.id

    # The same signed request again: its nonce was used.
    again = verifier.keys.verify(signing_key.key, scopes=["orders:write"], request=request)
    assert not again.valid and again.code == VerificationCode.SIGNATURE_REPLAYED
    assert again.key_id == signing_key.id


def test_a_tampered_body_is_refused(verifier: tronch.Client, signing_key: CreatedKey) -> None:
    headers = signed(signing_key)
    tampered = signed_request_from("POST", URL, headers, b'{"sku":"A-1","quantity":200}')
    assert verifier.keys.verify(signing_key.key, request=tampered).code == VerificationCode.SIGNATURE_INVALID
    # Without the body Tronch cannot compare it with Content-Digest: that is then the API's job.
    unchecked = signed(signing_key)
    assert verifier.keys.verify(signing_key.key, request=signed_request_from("POST", URL, unchecked)).valid


def test_a_changed_path_query_or_method_is_refused(verifier: tronch.Client, signing_key: CreatedKey) -> None:
    for method, url in [("POST", "https://api.example.com/orders?expand=all"), ("POST", "/orders/1?expand=items"),
                        ("PUT", URL), ("POST", "/orders")]:
        request = signed_request_from(method, url, signed(signing_key), BODY)
        assert verifier.keys.verify(signing_key.key, request=request).code == VerificationCode.SIGNATURE_INVALID, url


def test_an_old_signature_is_expired(verifier: tronch.Client, signing_key: CreatedKey) -> None:
    now = int(time.time())
    for kwargs in ({"created": now - 301}, {"created": now + 400}, {"expires": now - 1}):
        request = signed_request_from("POST", URL, signed(signing_key, **kwargs), BODY)
        assert verifier.keys.verify(signing_key.key, request=request).code == VerificationCode.SIGNATURE_EXPIRED, kwargs
    request = signed_request_from("POST", URL, signed(signing_key, created=now - 200, expires=now + 60), BODY)
    assert verifier.keys.verify(signing_key.key, request=request).valid


def test_what_the_signature_must_carry(verifier: tronch.Client, signing_key: CreatedKey) -> None:
    def code(headers: Dict[str, str], body: bytes = BODY) -> str:
        return verifier.keys.verify(signing_key.key, request=signed_request_from("POST", URL, headers, body)).code

    assert verifier.keys.verify(signing_key.key).code == VerificationCode.SIGNATURE_INVALID  # no request at all
    assert code({}) == VerificationCode.SIGNATURE_INVALID
    assert code(signed(signing_key, nonce=False)) == VerificationCode.SIGNATURE_INVALID
    assert code(signed(signing_key, components=["@method", "@path", "content-digest"])) == VerificationCode.SIGNATURE_INVALID
    assert code(signed(signing_key, key_id=signing_key.id, alg=True)) == VerificationCode.VALID
    assert code(signed(signing_key, key_id="00000000-0000-7000-8000-000000000000")) == VerificationCode.SIGNATURE_INVALID
    other = CreatedKey.from_dict({"signing_secret": "A" * 43})
    assert code(signed(other)) == VerificationCode.SIGNATURE_INVALID  # another secret
    # Extra covered components, any label.
    headers = signed(signing_key, label="tronch", components=["@method", "@authority", "@scheme", "@target-uri",
                                                                "@path", "@query", "content-digest", "content-type"],
                     headers={"Content-Type": "application/json"})
    assert code({"Content-Type": "application/json", **headers}) == VerificationCode.VALID
    # The signature is checked before the scopes: a good one with a missing scope is INSUFFICIENT_SCOPES.
    request = signed_request_from("POST", URL, signed(signing_key), BODY)
    assert verifier.keys.verify(signing_key.key, scopes=["orders:admin"], request=request).code == "INSUFFICIENT_SCOPES"


def test_a_key_that_does_not_sign_ignores_the_request(client: tronch.Client, verifier: tronch.Client) -> None:
    plain = client.keys.create(name="plain")
    assert verifier.keys.verify(plain.key, request={"method": "GET", "path": "/", "headers": {}}).valid
    revoked = client.keys.create(signing=True)
    client.keys.revoke(revoked.id)
    # Earlier checks come first: a revoked signing key is REVOKED whatever its request.
    assert verifier.keys.verify(revoked.key).code == VerificationCode.REVOKED


def test_a_mapping_with_the_body(verifier: tronch.Client, signing_key: CreatedKey) -> None:
    headers = signed(signing_key, method="GET", url="/orders", body=b"")
    request = {"method": "GET", "path": "/orders", "headers": headers, "body": b""}
    assert verifier.keys.verify(signing_key.key, request=request).valid
    request = {"method": "GET", "path": "/orders", "query": "", "headers": signed(signing_key, method="GET", url="/orders", body=b""),
               "body": b"smuggled"}
    assert verifier.keys.verify(signing_key.key, request=request).code == VerificationCode.SIGNATURE_INVALID


def test_rotation_draws_a_new_secret(client: tronch.Client, verifier: tronch.Client, signing_key: CreatedKey) -> None:
    rotated = client.keys.rotate(signing_key.id, grace_period_seconds=60)
    assert rotated.signing is True and rotated.signing_secret
    assert rotated.signing_secret != signing_key.signing_secret
    assert rotated.signing_secret not in repr(rotated)
    new_request = signed_request_from("POST", URL, signed(rotated), BODY)
    assert verifier.keys.verify(rotated.key, request=new_request).valid
    # The old secret does not sign for the new key; the old key keeps its own during the grace period.
    assert verifier.keys.verify(rotated.key, request=signed_request_from("POST", URL, signed(signing_key), BODY)).code \
        == VerificationCode.SIGNATURE_INVALID
    assert verifier.keys.verify(signing_key.key, request=signed_request_from("POST", URL, signed(signing_key), BODY)).valid

    unsigned = client.keys.rotate(rotated.id, signing=False)
    assert unsigned.signing is False and unsigned.signing_secret is None
    assert verifier.keys.verify(unsigned.key).valid
    signing_again = client.keys.rotate(unsigned.id, signing=True)
    assert signing_again.signing is True and signing_again.signing_secret not in (None, rotated.signing_secret)
    assert verifier.keys.verify(signing_again.key).code == VerificationCode.SIGNATURE_INVALID


def test_the_async_client_verifies_a_signed_request(base_url: str, verifier_key: str, signing_key: CreatedKey) -> None:
    async def run() -> Tuple[str, str]:
        async with tronch.AsyncClient(base_url, api_key=verifier_key, max_retries=0) as verifier:
            request = signed_request_from("POST", URL, signed(signing_key), BODY)
            first = await verifier.keys.verify(signing_key.key, request=request)
            second = await verifier.keys.verify(signing_key.key, request=request)
            return first.code, second.code

    assert asyncio.run(run()) == ("VALID", "SIGNATURE_REPLAYED")


class _OrdersAPI(BaseHTTPRequestHandler):
    """A small API that verifies each request's key and signature with Tronch, as a customer's API would."""

    verifier: tronch.Client
    seen: List[str]

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        key = (self.headers.get("Authorization") or "").removeprefix("Bearer ") or self.headers.get("X-API-Key", "")
        url = f"http://{self.headers['Host']}{self.path}"
        verdict = self.verifier.keys.verify(key, request=signed_request_from(self.command, url, self.headers.items(), body))
        self.seen.append(verdict.code)
        answer = json.dumps({"code": verdict.code}).encode()
        self.send_response(200 if verdict.valid else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_POST = do_DELETE = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def orders_api(verifier: tronch.Client) -> Iterator[Tuple[str, List[str]]]:
    seen: List[str] = []
    handler = type("OrdersAPI", (_OrdersAPI,), {"verifier": verifier, "seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_signing_auth_against_an_api(orders_api: Tuple[str, List[str]], signing_key: CreatedKey) -> None:
    api_url, seen = orders_api
    assert signing_key.signing_secret is not None
    auth = SigningAuth(signing_key.key, signing_key.signing_secret, key_id=signing_key.id)
    with httpx.Client(base_url=api_url, auth=auth) as api:
        assert api.post("/orders?expand=items", json={"sku": "A-1"}).status_code == 200
        assert api.get("/orders/a%20b", params={"q": "x y"}).status_code == 200
        assert api.delete("/orders/1").status_code == 200
    # Without signing, the key alone is refused.
    assert httpx.post(api_url + "/orders", headers={"Authorization": f"Bearer {signing_key.key}"}).status_code == 401

    async def run() -> int:
        async with httpx.AsyncClient(base_url=api_url, auth=SigningAuth(signing_key.key, signing_key.signing_secret or "",
                                                                         header="X-API-Key")) as api:
            return (await api.post("/orders", content=b"raw body")).status_code

    assert asyncio.run(run()) == 200
    assert seen == ["VALID", "VALID", "VALID", "SIGNATURE_INVALID", "VALID"]


def test_forward_authentication_checks_the_signature(base_url: str, signing_key: CreatedKey) -> None:
    target = "/orders/1?expand=items"
    headers = {"X-API-Key": signing_key.key, "X-Forwarded-Method": "GET", "X-Forwarded-Uri": target}
    signature = signed(signing_key, method="GET", url=target, body=b"")
    with httpx.Client(base_url=base_url) as gateway:
        ok = gateway.get("/api/v1/auth/check", headers={**headers, **signature})
        assert ok.status_code == 200 and ok.headers["x-tronch-key-id"] == signing_key.id
        replayed = gateway.get("/api/v1/auth/check", headers={**headers, **signature})
        assert replayed.status_code == 401 and replayed.headers["x-tronch-code"] == "SIGNATURE_REPLAYED"
        unsigned = gateway.get("/api/v1/auth/check", headers=headers)
        assert unsigned.status_code == 401 and unsigned.headers["x-tronch-code"] == "SIGNATURE_INVALID"
        old = signed(signing_key, method="GET", url=target, body=b"", created=int(time.time()) - 900)
        expired = gateway.get("/api/v1/auth/check", headers={**headers, **old})
        assert expired.status_code == 401 and expired.headers["x-tronch-code"] == "SIGNATURE_EXPIRED"
