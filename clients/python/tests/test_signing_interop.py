"""Interoperability of signed requests with a stock RFC 9421 library Tronch does not use itself:
http-message-signatures (pinned in pyproject.toml's test extras). It signs a request that Tronch verifies,
it verifies what the SDK signs, and both agree with the RFC's HMAC example (Appendix B.2.5)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Dict

import pytest

import tronch

hms = pytest.importorskip("http_message_signatures", reason="pip install -e './clients/python[test]'")
HMAC_SHA256 = hms.algorithms.HMAC_SHA256

URL = "https://api.example.com/orders?expand=items"
BODY = b'{"sku":"A-1","quantity":2}'


@dataclass
class Message:
    """A request as http-message-signatures 0.5 reads one (requests' attributes)."""

    method: str
    url: str
    headers: Dict[str, str] = field(default_factory=dict)


class SharedSecret(hms.HTTPSignatureKeyResolver):  # type: ignore[misc]
    def __init__(self, keys: Dict[str, bytes]) -> None:
        self.keys = keys

    def resolve_public_key(self, key_id: str) -> bytes:
        return self.keys[key_id]

    def resolve_private_key(self, key_id: str) -> bytes:
        return self.keys[key_id]


def hmac_key(signing_secret: str) -> bytes:
    """The HMAC key, decoded here as the API documents it (not with the SDK)."""
    return base64.urlsafe_b64decode(signing_secret + "=")


def test_http_message_signatures_signs_what_tronch_verifies(client: tronch.Client, verifier_key: str, base_url: str) -> None:
    created = client.keys.create(name="interop", scopes=["orders:write"], signing=True)
    assert created.signing_secret is not None
    key = hmac_key(created.signing_secret)
    assert len(key) == 32

    message = Message("POST", URL, {
        "Content-Type": "application/json",
        "Content-Digest": "sha-256=:" + base64.b64encode(hashlib.sha256(BODY).digest()).decode() + ":",
    })
    signer = hms.HTTPMessageSigner(signature_algorithm=HMAC_SHA256, key_resolver=SharedSecret({created.id: key}))
    # The library adds keyid and alg="hmac-sha256"; Tronch checks both.
    signer.sign(message, key_id=created.id, created=datetime.now(timezone.utc), nonce=secrets.token_urlsafe(16),
                label="pyhms", covered_component_ids=("@method", "@path", "@query", "content-digest", "content-type"))
    assert message.headers["Signature-Input"].startswith('pyhms=("@method" "@path" "@query" "content-digest" "content-type");created=')
    assert ';keyid="' in message.headers["Signature-Input"] and ';alg="hmac-sha256"' in message.headers["Signature-Input"]

    with tronch.Client(base_url, api_key=verifier_key, max_retries=0) as verifier:
        request = {"method": "POST", "path": "/orders", "query": "expand=items", "headers": message.headers, "body": BODY}
        verdict = verifier.keys.verify(created.key, scopes=["orders:write"], request=request)
        assert verdict.valid and verdict.key_id == created.id, verdict
        assert verifier.keys.verify(created.key, request=request).code == "SIGNATURE_REPLAYED"

        # The same library with another secret: refused.
        other = Message("POST", URL, dict(message.headers))
        hms.HTTPMessageSigner(signature_algorithm=HMAC_SHA256, key_resolver=SharedSecret({created.id: bytes(32)})).sign(
            other, key_id=created.id, created=datetime.now(timezone.utc), nonce=secrets.token_urlsafe(16),
            covered_component_ids=("@method", "@path", "@query", "content-digest"))
        forged = {"method": "POST", "path": "/orders", "query": "expand=items", "headers": other.headers, "body": BODY}
        assert verifier.keys.verify(created.key, request=forged).code == "SIGNATURE_INVALID"


def test_http_message_signatures_verifies_what_the_sdk_signs() -> None:
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    headers = tronch.sign_request("POST", URL, BODY, secret=secret, key_id="key-1", alg=True,
                                  components=["@method", "@authority", "@path", "@query", "content-digest", "content-type"],
                                  headers={"Content-Type": "application/json"})
    message = Message("POST", URL, {"Content-Type": "application/json", **headers})
    verifier = hms.HTTPMessageVerifier(signature_algorithm=HMAC_SHA256,
                                       key_resolver=SharedSecret({"key-1": hmac_key(secret)}))
    [result] = verifier.verify(message)
    assert result.label == "sig1"
    assert result.parameters["nonce"] and result.parameters["alg"] == "hmac-sha256"

    message.headers["Content-Type"] = "text/plain"
    with pytest.raises(hms.InvalidSignature):
        verifier.verify(message)


def test_both_make_the_rfc_9421_hmac_example() -> None:
    """Appendix B.2.5 with the shared secret of B.1.5: the library, the SDK and the RFC agree."""
    secret = base64.b64decode(
        "uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ=="
    )
    headers = {"Date": "Tue, 20 Apr 2021 02:07:55 GMT", "Content-Type": "application/json"}
    message = Message("POST", "https://example.com/foo?param=Value&Pet=dog", dict(headers))
    hms.HTTPMessageSigner(signature_algorithm=HMAC_SHA256, key_resolver=SharedSecret({"test-shared-secret": secret})).sign(
        message, key_id="test-shared-secret", created=datetime.fromtimestamp(1618884473, timezone.utc), label="sig-b25",
        include_alg=False, covered_component_ids=("date", "@authority", "content-type"))
    ours = tronch.sign_request("POST", message.url, b'{"hello": "world"}', secret=secret, key_id="test-shared-secret",
                               nonce=False, created=1618884473, label="sig-b25",
                               components=["date", "@authority", "content-type"], headers=headers)
    assert message.headers["Signature"] == ours["Signature"] == "sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:"
    assert message.headers["Signature-Input"] == ours["Signature-Input"]
