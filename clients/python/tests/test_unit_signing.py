"""The request signer (tronch.sign_request, SigningAuth) and the verify-side helpers, without a server: the
RFC 9421 test vectors, the exact signature base, and every argument check."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timezone
from typing import Any, Dict, List

import httpx
import pytest

import tronch
from tronch import CreatedKey, Key, SignedRequestInfo, SigningAuth, VerificationCode, sign_request
from tronch._calls import KeysCalls

# RFC 9421 Appendix B.1.5: the shared secret of the HMAC-SHA256 examples.
RFC_SHARED_SECRET = base64.b64decode(
    "uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ=="
)
# RFC 9421 Appendix B.2: the test request.
RFC_URL = "https://example.com/foo?param=Value&Pet=dog"
RFC_HEADERS = {
    "Host": "example.com",
    "Date": "Tue, 20 Apr 2021 02:07:55 GMT",
    "Content-Type": "application/json",
    "Content-Digest": "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:",
    "Content-Length": "18",
}
RFC_BODY = b'{"hello": "world"}'

SECRET = base64.urlsafe_b64encode(bytes(range(32))).decode().rstrip("=")  # a signing_secret: 43 characters


def test_rfc_9421_b25_hmac_sha256() -> None:
    """Appendix B.2.5: the SDK's signer makes the published signature, byte for byte."""
    headers = sign_request(
        "POST", RFC_URL, RFC_BODY, secret=RFC_SHARED_SECRET, key_id="test-shared-secret", nonce=False,
        created=1618884473, label="sig-b25", components=["date", "@authority", "content-type"], headers=RFC_HEADERS,
    )
    assert headers["Signature-Input"] == 'sig-b25=("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"'
    assert headers["Signature"] == "sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:"
    assert tronch.signature_base(
        "POST", RFC_URL, components=["date", "@authority", "content-type"],
        params=[("created", 1618884473), ("keyid", "test-shared-secret")], headers=RFC_HEADERS,
    ) == "\n".join([
        '"date": Tue, 20 Apr 2021 02:07:55 GMT',
        '"@authority": example.com',
        '"content-type": application/json',
        '"@signature-params": ("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"',
    ])


def test_rfc_9421_b23_and_b26_signature_bases() -> None:
    """Appendix B.2.3 (full coverage) and B.2.6: the published signature bases."""
    b23 = ["date", "@method", "@path", "@query", "@authority", "content-type", "content-digest", "content-length"]
    assert tronch.signature_base(
        "POST", RFC_URL, components=b23, params=[("created", 1618884473), ("keyid", "test-key-rsa-pss")],
        headers=RFC_HEADERS,
    ) == "\n".join([
        '"date": Tue, 20 Apr 2021 02:07:55 GMT',
        '"@method": POST',
        '"@path": /foo',
        '"@query": ?param=Value&Pet=dog',
        '"@authority": example.com',
        '"content-type": application/json',
        '"content-digest": sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:',
        '"content-length": 18',
        '"@signature-params": ("date" "@method" "@path" "@query" "@authority" "content-type" "content-digest" '
        '"content-length");created=1618884473;keyid="test-key-rsa-pss"',
    ])
    b26 = ["date", "@method", "@path", "@authority", "content-type", "content-length"]
    assert tronch.signature_base(
        "post", RFC_URL, components=b26, params=[("created", 1618884473), ("keyid", "test-key-ed25519")],
        headers=list(RFC_HEADERS.items()),
    ).splitlines()[1] == '"@method": POST'


def test_the_default_signature_is_what_tronch_requires() -> None:
    body = b'{"sku":"A-1"}'
    headers = sign_request("post", "https://api.example.com/orders?expand=items", body, secret=SECRET,
                           nonce="n-1", created=1700000000)
    digest = "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"
    assert headers["Content-Digest"] == digest == tronch.content_digest(body) == tronch.content_digest(body.decode())
    assert headers["Signature-Input"] == 'sig1=("@method" "@path" "@query" "content-digest");created=1700000000;nonce="n-1"'
    base = "\n".join([
        '"@method": POST',
        '"@path": /orders',
        '"@query": ?expand=items',
        f'"content-digest": {digest}',
        '"@signature-params": ("@method" "@path" "@query" "content-digest");created=1700000000;nonce="n-1"',
    ])
    mac = hmac.new(bytes(range(32)), base.encode(), hashlib.sha256).digest()
    assert headers["Signature"] == "sig1=:" + base64.b64encode(mac).decode() + ":"
    assert tuple(tronch.SIGNED_COMPONENTS) == ("@method", "@path", "@query", "content-digest")


def test_query_path_and_optional_parameters() -> None:
    headers = sign_request("GET", "/", secret=SECRET, nonce="x", created=datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc),
                           expires=1700000300, key_id="01a2-id", alg=True, label="tronch")
    assert headers["Signature-Input"] == (
        'tronch=("@method" "@path" "@query" "content-digest");created=1700000000;expires=1700000300;nonce="x"'
        ';keyid="01a2-id";alg="hmac-sha256"'
    )
    assert headers["Content-Digest"] == "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"  # the empty body
    base = tronch.signature_base("GET", "http://h", params=[("nonce", 'a"b\\c')],
                                 headers={"Content-Digest": "d"})
    assert base.splitlines()[1:3] == ['"@path": /', '"@query": ?']
    assert base.endswith(';nonce="a\\"b\\\\c"')


def test_every_derived_component() -> None:
    components = ["@method", "@target-uri", "@authority", "@scheme", "@request-target", "@path", "@query", "x-a"]
    values = dict(
        line.split(": ", 1) for line in tronch.signature_base(
            "delete", "HTTPS://user@API.Example.com:443/a%20b?q=1#frag", components=components,
            headers=[("X-A", " one "), ("x-a", "two")],
        ).splitlines()
    )
    assert values == {
        '"@method"': "DELETE",
        '"@target-uri"': "https://api.example.com/a%20b?q=1",
        '"@authority"': "api.example.com",
        '"@scheme"': "https",
        '"@request-target"': "/a%20b?q=1",
        '"@path"': "/a%20b",
        '"@query"': "?q=1",
        '"x-a"': "one, two",
        '"@signature-params"': '("@method" "@target-uri" "@authority" "@scheme" "@request-target" "@path" "@query" "x-a")',
    }
    assert '"@authority": h:8080' in tronch.signature_base("GET", "http://h:8080/", components=["@authority"])
    assert '"@request-target": /p' in tronch.signature_base("GET", "/p", components=["@request-target"])


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(secret="short"), ValueError, "43 characters"),
        (dict(secret="tronch_sk_live_" + "A" * 38), ValueError, "43 characters"),
        (dict(secret="!" * 43), ValueError, "43 characters"),
        (dict(secret=b""), ValueError, "empty"),
        (dict(secret=42), TypeError, "signing_secret"),
        (dict(label="Sig1"), ValueError, "label"),
        (dict(nonce="x" * 129), ValueError, "1 to 128"),
        (dict(nonce=""), ValueError, "1 to 128"),
        (dict(nonce="é"), ValueError, "printable ASCII"),
        (dict(created="1700000000"), TypeError, "unix seconds"),
        (dict(created=True), TypeError, "unix seconds"),
        (dict(components="@method"), TypeError, "not a single string"),
        (dict(components=["@method", 1]), TypeError, "must be a string"),
        (dict(components=["@status"]), ValueError, "unsupported derived component"),
        (dict(components=["Content-Type"]), ValueError, "lower-case field name"),
        (dict(components=['"@query-param";name="a"']), ValueError, "lower-case field name"),
        (dict(components=["@path", "@path"]), ValueError, "listed twice"),
        (dict(components=["date"]), ValueError, "not in the request's headers"),
        (dict(components=["x"], headers={"x": "a\nb"}), ValueError, "line break"),
        (dict(components=["@authority"]), ValueError, "no host"),
        (dict(components=["@scheme"]), ValueError, "no scheme"),
        (dict(components=["@target-uri"]), ValueError, "no host"),
    ],
)
def test_bad_arguments(kwargs: Dict[str, Any], error: type, message: str) -> None:
    arguments: Dict[str, Any] = dict(secret=SECRET)
    arguments.update(kwargs)
    with pytest.raises(error, match=message) as caught:
        sign_request("GET", "/orders", **arguments)
    if isinstance(kwargs.get("secret"), str):
        assert kwargs["secret"] not in str(caught.value)


def test_bad_urls_methods_and_parameters() -> None:
    with pytest.raises(ValueError, match="method"):
        sign_request("", "/", secret=SECRET)
    with pytest.raises(TypeError, match="url"):
        sign_request("GET", b"/", secret=SECRET)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="parameter name"):
        tronch.signature_base("GET", "/", params=[("Bad", 1)], headers={"content-digest": "d"})
    with pytest.raises(TypeError, match="int or a string"):
        tronch.signature_base("GET", "/", params=[("created", 1.5)], headers={"content-digest": "d"})  # type: ignore[list-item]


def test_random_nonces_and_current_time() -> None:
    first, second = (sign_request("GET", "/", secret=SECRET) for _ in range(2))
    assert first["Signature-Input"] != second["Signature-Input"]
    nonce = first["Signature-Input"].split('nonce="')[1].rstrip('"')
    assert len(nonce) == 22
    created = int(first["Signature-Input"].split("created=")[1].split(";")[0])
    assert abs(created - datetime.now(timezone.utc).timestamp()) < 5


def test_signing_auth_signs_each_request_sync_and_async() -> None:
    seen: List[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    auth = SigningAuth("tronch_sk_live_" + "K" * 38, SECRET, key_id="01a2-id")
    assert "K" * 10 not in repr(auth) and "01a2-id" in repr(auth)
    with httpx.Client(base_url="https://api.example.com", auth=auth, transport=httpx.MockTransport(handler)) as api:
        api.post("/orders/a%20b?expand=items&x=%20", json={"sku": "A-1"})
        api.get("/orders")
    for request, (path, query) in zip(seen, [("/orders/a%20b", "expand=items&x=%20"), ("/orders", "")]):
        assert request.headers["authorization"] == "Bearer tronch_sk_live_" + "K" * 38
        assert request.headers["content-digest"] == tronch.content_digest(request.content)
        params = request.headers["signature-input"].split(")", 1)[1]
        assert ';keyid="01a2-id"' in params
        expected = sign_request(request.method, f"{path}?{query}" if query else path, request.content,
                                secret=SECRET, key_id="01a2-id", nonce=params.split('nonce="')[1].split('"')[0],
                                created=int(params.split("created=")[1].split(";")[0]))
        assert request.headers["signature"] == expected["Signature"]

    async def run() -> None:
        async with httpx.AsyncClient(auth=SigningAuth("k_1", SECRET, header="X-API-Key",
                                                      components=["@method", "@authority", "@path", "@query", "content-digest"]),
                                     transport=httpx.MockTransport(handler)) as api:
            await api.put("http://api.example.com:8080/orders/1", content=b"raw")

    import asyncio

    asyncio.run(run())
    request = seen[-1]
    assert request.headers["x-api-key"] == "k_1" and "authorization" not in request.headers
    info = tronch.signed_request_from(request.method, str(request.url), request.headers, request.content)
    assert info.authority == "api.example.com:8080" and info.scheme == "http"
    assert request.headers["signature"] == sign_request(
        "PUT", str(request.url), b"raw", secret=SECRET,
        nonce=request.headers["signature-input"].split('nonce="')[1].split('"')[0],
        created=int(request.headers["signature-input"].split("created=")[1].split(";")[0]),
        components=["@method", "@authority", "@path", "@query", "content-digest"],
    )["Signature"]
    with pytest.raises(ValueError, match="api_key"):
        SigningAuth(" ", SECRET)
    with pytest.raises(ValueError, match="43 characters"):
        SigningAuth("k", "nope")


def test_signed_request_from_keeps_only_what_the_signature_needs() -> None:
    body = b'{"sku":"A-1"}'
    signed = sign_request("POST", "/orders?expand=items", body, secret=SECRET, components=[*tronch.SIGNED_COMPONENTS, "x-tenant"],
                          headers={"X-Tenant": "acme"})
    received = [("Host", "api.example.com"), ("Cookie", "session=1"), ("Authorization", "Bearer k"),
                ("X-Tenant", "acme"), *signed.items()]
    info = tronch.signed_request_from("POST", "https://api.example.com/orders?expand=items", received, body)
    assert info == SignedRequestInfo(
        method="POST", path="/orders", query="expand=items", authority="api.example.com", scheme="https",
        headers={"x-tenant": "acme", "content-digest": signed["Content-Digest"],
                 "signature-input": signed["Signature-Input"], "signature": signed["Signature"]},
        body_sha256=tronch.body_sha256(body),
    )
    assert info.to_dict() == {
        "method": "POST", "path": "/orders", "query": "expand=items", "authority": "api.example.com",
        "scheme": "https", "headers": info.headers, "body_sha256": base64.b64encode(hashlib.sha256(body).digest()).decode(),
    }
    # A path without a host or a body; an unreadable Signature-Input keeps only the signature fields.
    bare = tronch.signed_request_from("GET", "/orders", {"Signature-Input": "garbage", "Signature": "s", "Date": "d"})
    assert bare.to_dict() == {"method": "GET", "path": "/orders", "headers": {"signature-input": "garbage", "signature": "s"}}
    assert tronch.signed_request_from("GET", "/", {}, body_sha256="abc=").body_sha256 == "abc="
    with pytest.raises(TypeError, match="not both"):
        tronch.signed_request_from("GET", "/", {}, b"", body_sha256="abc=")


def test_verify_sends_the_request() -> None:
    info = SignedRequestInfo(method="GET", path="/orders", headers={"signature": "s"})
    call = KeysCalls.verify("k", request=info)
    assert call.json == {"key": "k", "request": {"method": "GET", "path": "/orders", "headers": {"signature": "s"}}}
    mapping = KeysCalls.verify("k", request={"method": "POST", "path": "/o", "query": None,
                                             "headers": {"Signature": "s", "X-A": "1"}, "body": b"{}"})
    assert mapping.json == {"key": "k", "request": {"method": "POST", "path": "/o",
                                                     "headers": {"signature": "s", "x-a": "1"},
                                                     "body_sha256": tronch.body_sha256(b"{}")}}
    assert KeysCalls.verify("k", request={"method": "GET", "path": "/", "headers": {}, "body": None}).json == {
        "key": "k", "request": {"method": "GET", "path": "/", "headers": {}}}
    with pytest.raises(TypeError, match="not both"):
        KeysCalls.verify("k", request={"method": "GET", "path": "/", "headers": {}, "body": b"", "body_sha256": "x"})
    with pytest.raises(TypeError, match="SignedRequestInfo"):
        KeysCalls.verify("k", request="GET /")  # type: ignore[arg-type]
    assert "request" not in (KeysCalls.verify("k").json or {})


def test_create_and_rotate_send_signing() -> None:
    assert KeysCalls.create(signing=True).json == {"signing": True}
    assert KeysCalls.create().json == {}
    assert KeysCalls.rotate("id", signing=False).json == {"signing": False}
    assert KeysCalls.rotate("id").json == {}


def test_models_read_signing() -> None:
    created = CreatedKey.from_dict({"id": "a", "key": "k", "signing": True, "signing_secret": SECRET})
    assert created.signing is True and created.signing_secret == SECRET
    assert SECRET not in repr(created) and SECRET not in str(created)
    plain = CreatedKey.from_dict({"id": "a", "key": "k"})
    assert plain.signing is False and plain.signing_secret is None
    assert Key.from_dict({"signing": "yes"}).signing is False
    codes = [name for name in vars(VerificationCode) if name.isupper()]
    assert codes == ["VALID", "NOT_FOUND", "REVOKED", "DISABLED", "EXPIRED", "FORBIDDEN", "SIGNATURE_INVALID",
                     "SIGNATURE_EXPIRED", "SIGNATURE_REPLAYED", "INSUFFICIENT_SCOPES", "RATE_LIMITED", "USAGE_EXCEEDED"]
