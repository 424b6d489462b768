"""A Tronch access token checked by PyJWT (a JWT library Tronch does not use) against the server's
/.well-known/jwks.json, as a resource server that verifies tokens itself would (RFC 9068, RFC 8725)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any, Callable, Dict

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

import tronch

from conftest import Person, TronchServer


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_access_token_verifies_with_pyjwt_against_the_jwks(
    make_person: Callable[..., Person], make_client: Callable[..., tronch.Client], tronch_server: TronchServer
) -> None:
    person = make_person()
    client = make_client()
    pair = client.login(person.username, password=person.password)
    token = pair.access_token

    # The key set, fetched as any library would (a plain GET, no credential), and through the SDK.
    answer = httpx.get(f"{tronch_server.url}/.well-known/jwks.json", timeout=5)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/jwk-set+json")
    jwks: Dict[str, Any] = answer.json()
    assert client.auth.jwks() == jwks
    for jwk in jwks["keys"]:
        assert set(jwk) >= {"kty", "crv", "x", "y", "kid", "alg", "use"}
        assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"]) == ("EC", "P-256", "ES256", "sig")
        assert "d" not in jwk  # public keys only

    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256"
    assert header["typ"] == "at+jwt"  # RFC 9068 §2.1
    key_set = jwt.PyJWKSet.from_dict(jwks)
    signing_key = next(k for k in key_set.keys if k.key_id == header["kid"])

    claims = jwt.decode(
        token,
        key=signing_key.key,
        algorithms=["ES256"],
        audience="tronch",
        issuer=tronch_server.url,
        options={"require": ["iss", "aud", "sub", "exp", "iat", "nbf", "jti"], "verify_signature": True},
    )
    assert claims["iss"] == tronch_server.url
    assert claims["aud"] == "tronch"
    assert claims["sub"] == person.id
    assert claims["sid"] == pair.session_id
    for name in ("exp", "iat", "nbf"):
        assert type(claims[name]) is int, name  # NumericDate: integers, not floats
    now = int(time.time())
    assert claims["nbf"] <= now + 5 and claims["iat"] <= now + 5
    assert claims["exp"] - claims["iat"] == pair.expires_in == 600
    assert claims["scope"] == "* keys:read keys:write"
    assert claims["role"] == "member"
    assert claims["groups"] == []
    assert claims["amr"] == ["pwd"]
    assert isinstance(claims["jti"], str) and claims["jti"]

    # The signature covers header and payload: a changed claim, or another audience, fails.
    head, payload, signature = token.split(".")
    forged_claims = dict(claims, role="admin", scope="admin")
    forged = ".".join([head, b64url(json.dumps(forged_claims).encode()), signature])
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged, key=signing_key.key, algorithms=["ES256"], audience="tronch", issuer=tronch_server.url)
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(token, key=signing_key.key, algorithms=["ES256"], audience="someone-else")

    # Tronch refuses both the forged token and one signed by another key under the same kid (and
    # whatever the header says, never HS256 or none).
    other_key = ec.generate_private_key(ec.SECP256R1())
    foreign = jwt.encode(claims, other_key, algorithm="ES256", headers={"kid": header["kid"], "typ": "at+jwt"})
    unsigned = jwt.encode(claims, "", algorithm="none", headers={"kid": header["kid"], "typ": "at+jwt"})
    for bad in (forged, foreign, unsigned.rstrip(".") + ".", token):
        impostor = make_client()
        impostor.use_token(bad)
        if bad is token:
            assert impostor.users.me().id == person.id  # the genuine token, for contrast
            continue
        with pytest.raises(tronch.TokenInvalidError):
            impostor.users.me()
