"""Signed requests: RFC 9421 HTTP Message Signatures with ``hmac-sha256``, over an RFC 9530 ``Content-Digest``.

A key created with ``signing=True`` comes with a ``signing_secret``. The client signs each request with it
(:func:`sign_request`, or :class:`SigningAuth` for ``httpx``), and your API hands what it received to
``client.keys.verify(key, request=...)`` (:func:`signed_request_from` builds that argument from a web
framework's request). Nothing here talks to Tronch.

The signature base is RFC 9421 section 2.5 exactly: one line ``"<component>": <value>`` per covered
component, then ``"@signature-params": (...)`` with the parameters in the order given. Tronch needs at
least ``"@method" "@path" "@query" "content-digest"`` (:data:`SIGNED_COMPONENTS`) and the parameters
``created`` (within five minutes of its clock) and ``nonce`` (once per key).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, Generator, Iterable, List, Literal, Mapping, Optional, Sequence, Tuple, Union
from urllib.parse import urlsplit

import httpx


__all__ = [
    "SIGNED_COMPONENTS",
    "SignedRequestInfo",
    "SigningAuth",
    "body_sha256",
    "content_digest",
    "sign_request",
    "signature_base",
    "signed_request_from",
]

#: The components Tronch requires a signature to cover (at least), in the order the SDK signs them.
SIGNED_COMPONENTS: Tuple[str, ...] = ("@method", "@path", "@query", "content-digest")

_DERIVED = frozenset({"@method", "@path", "@query", "@authority", "@scheme", "@target-uri", "@request-target"})
_FIELD_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9a-z]+$")  # an HTTP field name (RFC 9110 token), lower case
_LABEL = re.compile(r"^[a-z*][a-z0-9_\-.*]*$")  # a structured-field dictionary key (RFC 8941)
_DEFAULT_PORTS = {"http": "80", "https": "443"}
# The first member of a Signature-Input field: its label and the inner list of covered components.
_FIRST_SIGNATURE = re.compile(r'^\s*[a-z*][a-z0-9_\-.*]*\s*=\s*\(([^)]*)\)')

Timestamp = Union[int, datetime]
Secret = Union[str, bytes]
HeadersInput = Union[Mapping[str, str], Iterable[Tuple[str, str]]]


def body_sha256(body: Union[bytes, bytearray, memoryview, str]) -> str:
    """The SHA-256 of ``body`` in base64 (with padding): what ``keys.verify`` takes as ``body_sha256``. A
    ``str`` is encoded as UTF-8."""
    data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


_hash_body = body_sha256  # for the functions whose parameter of that name hides it


def content_digest(body: Union[bytes, bytearray, memoryview, str]) -> str:
    """The RFC 9530 ``Content-Digest`` of ``body``: ``sha-256=:<base64 of its SHA-256>:``."""
    return f"sha-256=:{body_sha256(body)}:"


def _secret_bytes(secret: Secret) -> bytes:
    """The HMAC key: Tronch's ``signing_secret`` (43 characters of base64url, no padding) decoded to its 32
    bytes, or raw bytes as they are (any other shared secret, such as RFC 9421's test key)."""
    if isinstance(secret, (bytes, bytearray)):
        if not secret:
            raise ValueError("the signing secret must not be empty")
        return bytes(secret)
    if not isinstance(secret, str):
        raise TypeError("the signing secret must be the signing_secret string Tronch returned, or bytes")
    text = secret.strip()
    try:
        if not re.fullmatch(r"[A-Za-z0-9_-]+", text):
            raise ValueError
        key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, binascii.Error):
        key = b""
    if len(key) != 32:
        # Not repeated in the message: it may be a secret pasted in the wrong place.
        raise ValueError("the signing secret must be a key's signing_secret: 43 characters of base64url")
    return key


def _sf_string(value: str, what: str) -> str:
    """``value`` as an RFC 8941 string: quoted, with ``\\`` and ``"`` escaped; printable ASCII only."""
    if any(not (0x20 <= ord(c) <= 0x7E) for c in value):
        raise ValueError(f"{what} must be printable ASCII")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _seconds(value: Timestamp, what: str) -> int:
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be unix seconds (an int) or a datetime")
    return value


def _lowered(headers: Optional[HeadersInput]) -> Dict[str, str]:
    """Header fields by lower-case name; a repeated field's values joined with ``, `` (RFC 9421 2.1)."""
    result: Dict[str, str] = {}
    if headers is None:
        return result
    pairs: Iterable[Tuple[str, str]]
    items = getattr(headers, "items", None)
    pairs = items() if callable(items) else headers  # type: ignore[assignment]
    for name, value in pairs:
        name = (name.decode("latin-1") if isinstance(name, bytes) else str(name)).lower()
        text = (value.decode("latin-1") if isinstance(value, bytes) else str(value)).strip()
        result[name] = f"{result[name]}, {text}" if name in result else text
    return result


def _authority(netloc: str, scheme: str) -> str:
    """``@authority``: host and port, lower case, without user information or the scheme's default port."""
    host = netloc.rpartition("@")[2].lower()
    port = _DEFAULT_PORTS.get(scheme.lower())
    if port and host.endswith(":" + port) and not host.endswith("]"):
        host = host[: -len(port) - 1]
    return host


@dataclass(frozen=True)
class _Target:
    """What the derived components are computed from."""

    method: str
    path: str
    query: str  # without "?"; "" when there is none
    authority: Optional[str] = None
    scheme: Optional[str] = None

    @classmethod
    def of(cls, method: str, url: str) -> "_Target":
        if not isinstance(method, str) or not method:
            raise ValueError("method must be a non-empty string")
        if not isinstance(url, str):
            raise TypeError("url must be a string")
        parts = urlsplit(url)
        scheme = parts.scheme.lower() or None
        authority = _authority(parts.netloc, parts.scheme) if parts.netloc else None
        return cls(method, parts.path or "/", parts.query, authority, scheme)

    def value(self, component: str) -> str:
        if component == "@method":
            return self.method.upper()
        if component == "@path":
            return self.path
        if component == "@query":
            return "?" + self.query
        if component == "@request-target":
            return self.path + ("?" + self.query if self.query else "")
        if component in ("@authority", "@target-uri") and self.authority is None:
            raise ValueError(f"{component} is covered, but the URL has no host: pass an absolute URL")
        if component in ("@scheme", "@target-uri") and self.scheme is None:
            raise ValueError(f"{component} is covered, but the URL has no scheme: pass an absolute URL")
        if component == "@authority":
            return str(self.authority)
        if component == "@scheme":
            return str(self.scheme)
        return f"{self.scheme}://{self.authority}{self.value('@request-target')}"  # @target-uri


def _signature_params(components: Sequence[str], params: Sequence[Tuple[str, Union[int, str]]]) -> str:
    inner = " ".join(f'"{c}"' for c in components)
    rendered = []
    for name, value in params:
        if not _LABEL.match(name):
            raise ValueError(f"invalid signature parameter name {name!r}")
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise TypeError(f"the signature parameter {name} must be an int or a string")
        rendered.append(f";{name}={value}" if isinstance(value, int) else f";{name}={_sf_string(value, name)}")
    return f"({inner})" + "".join(rendered)


def _check_components(components: Sequence[str]) -> List[str]:
    if isinstance(components, str):
        raise TypeError("components must be a list of component names, not a single string")
    checked: List[str] = []
    for component in components:
        if not isinstance(component, str):
            raise TypeError("each component must be a string")
        if component.startswith("@"):
            if component not in _DERIVED:
                raise ValueError(f"unsupported derived component {component!r}")
        elif not _FIELD_NAME.match(component):
            raise ValueError(f"a header component is a lower-case field name without parameters: {component!r}")
        if component in checked:
            raise ValueError(f"component {component!r} is listed twice")
        checked.append(component)
    return checked


def _base(
    target: _Target,
    components: Sequence[str],
    params: Sequence[Tuple[str, Union[int, str]]],
    headers: Mapping[str, str],
) -> Tuple[str, str]:
    """The signature base and the ``@signature-params`` value (the inner list and its parameters)."""
    lines = []
    for component in _check_components(components):
        if component.startswith("@"):
            value = target.value(component)
        elif component in headers:
            value = headers[component]
        else:
            raise ValueError(f"the header field {component!r} is covered but not in the request's headers")
        if "\n" in value or "\r" in value:
            raise ValueError(f"the value of {component!r} contains a line break")
        lines.append(f'"{component}": {value}')
    signature_params = _signature_params(components, params)
    lines.append(f'"@signature-params": {signature_params}')
    return "\n".join(lines), signature_params


def signature_base(
    method: str,
    url: str,
    *,
    components: Sequence[str] = SIGNED_COMPONENTS,
    params: Sequence[Tuple[str, Union[int, str]]] = (),
    headers: Optional[HeadersInput] = None,
) -> str:
    """The RFC 9421 signature base (section 2.5) of a request, as Tronch computes it: for debugging a
    signature another library made. ``params`` are the signature parameters in order, e.g.
    ``[("created", 1700000000), ("nonce", "abc")]``; covered header fields come from ``headers``."""
    return _base(_Target.of(method, url), components, params, _lowered(headers))[0]


def _sign(
    target: _Target,
    body: Union[bytes, bytearray, memoryview, str],
    *,
    secret: Secret,
    key_id: Optional[str],
    nonce: Union[str, None, Literal[False]],
    created: Optional[Timestamp],
    expires: Optional[Timestamp],
    alg: bool,
    label: str,
    components: Sequence[str],
    headers: Optional[HeadersInput],
) -> Dict[str, str]:
    key = _secret_bytes(secret)
    if not isinstance(label, str) or not _LABEL.match(label):
        raise ValueError("label must be a lower-case structured-field key, such as 'sig1'")
    digest = content_digest(body)
    fields = _lowered(headers)
    fields["content-digest"] = digest
    params: List[Tuple[str, Union[int, str]]] = [
        ("created", int(time.time()) if created is None else _seconds(created, "created"))
    ]
    if expires is not None:
        params.append(("expires", _seconds(expires, "expires")))
    if nonce is None:
        nonce = secrets.token_urlsafe(16)
    if nonce is not False:
        if not isinstance(nonce, str) or not 1 <= len(nonce) <= 128:
            raise ValueError("nonce must be a string of 1 to 128 characters")
        params.append(("nonce", nonce))
    if key_id is not None:
        params.append(("keyid", key_id))
    if alg:
        params.append(("alg", "hmac-sha256"))
    base, signature_params = _base(target, components, params, fields)
    mac = base64.b64encode(hmac.new(key, base.encode("ascii"), hashlib.sha256).digest()).decode("ascii")
    return {
        "Content-Digest": digest,
        "Signature-Input": f"{label}={signature_params}",
        "Signature": f"{label}=:{mac}:",
    }


def sign_request(
    method: str,
    url: str,
    body: Union[bytes, bytearray, memoryview, str] = b"",
    *,
    secret: Secret,
    key_id: Optional[str] = None,
    nonce: Union[str, None, Literal[False]] = None,
    created: Optional[Timestamp] = None,
    expires: Optional[Timestamp] = None,
    alg: bool = False,
    label: str = "sig1",
    components: Sequence[str] = SIGNED_COMPONENTS,
    headers: Optional[HeadersInput] = None,
) -> Dict[str, str]:
    """Signs a request with a key's ``signing_secret`` and returns the headers to add to it:
    ``Content-Digest``, ``Signature-Input`` and ``Signature``.

    ``url`` is the URL the request goes to (absolute, or just the path and query): ``@path`` and ``@query``
    are taken from it as they will be sent, so percent-escape it as the HTTP library will. ``body`` is the
    exact bytes sent (``""`` for a ``GET``; a ``str`` is encoded as UTF-8).

    ``secret`` is the key's ``signing_secret`` (the 43-character string), or raw bytes for another shared
    secret. ``created`` (default now) and ``expires`` are unix seconds or datetimes; ``nonce`` defaults to
    16 random bytes (22 characters) and ``False`` leaves it out (Tronch then refuses the signature: only for
    other verifiers). ``key_id`` adds ``keyid`` (Tronch checks it against the key's id) and ``alg=True``
    adds ``alg="hmac-sha256"``. ``components`` are the covered components, by default
    :data:`SIGNED_COMPONENTS`; other header fields they name come from ``headers``.
    """
    return _sign(
        _Target.of(method, url), body, secret=secret, key_id=key_id, nonce=nonce, created=created,
        expires=expires, alg=alg, label=label, components=components, headers=headers,
    )


class SigningAuth(httpx.Auth):
    """``httpx`` authentication for a key that signs its requests: it sends the key and signs every request
    (``Content-Digest``, ``Signature-Input``, ``Signature``) just before it goes out, retries included::

        with httpx.Client(base_url="https://api.example.com", auth=SigningAuth(key, signing_secret)) as api:
            api.post("/orders", json={"sku": "A-1"})

    Works with ``httpx.Client`` and ``httpx.AsyncClient``. The key goes in ``Authorization: Bearer <key>``,
    or as is in the header named by ``header`` (e.g. ``"X-API-Key"``). ``key_id`` (the key's id) adds the
    ``keyid`` parameter; ``components`` adds covered components to :data:`SIGNED_COMPONENTS`' defaults.
    """

    requires_request_body = True

    def __init__(
        self,
        api_key: str,
        signing_secret: Secret,
        key_id: Optional[str] = None,
        *,
        header: str = "Authorization",
        components: Sequence[str] = SIGNED_COMPONENTS,
        label: str = "sig1",
    ) -> None:
        if not isinstance(api_key, str) or not api_key.strip():
            raise ValueError("api_key must be a non-empty string")
        self._secret = _secret_bytes(signing_secret)
        self._header = header
        self._value = f"Bearer {api_key.strip()}" if header.lower() == "authorization" else api_key.strip()
        self._key_id = key_id
        self._components = tuple(_check_components(components))
        self._label = label

    def __repr__(self) -> str:
        return f"SigningAuth(key_id={self._key_id!r}, header={self._header!r})"

    def sign(self, request: httpx.Request) -> None:
        """Adds the key and the signature headers to ``request``."""
        request.headers[self._header] = self._value
        path, _, query = request.url.raw_path.decode("ascii").partition("?")
        authority = request.headers.get("host") or request.url.netloc.decode("ascii")
        target = _Target(request.method, path or "/", query, authority.lower(), request.url.scheme)
        request.headers.update(_sign(
            target, request.content, secret=self._secret, key_id=self._key_id, nonce=None, created=None,
            expires=None, alg=False, label=self._label, components=self._components, headers=request.headers,
        ))

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.sign(request)
        yield request


@dataclass(frozen=True)
class SignedRequestInfo:
    """The request your API received, as ``keys.verify(key, request=...)`` sends it to Tronch for a key that
    signs its requests. Build it with :func:`signed_request_from`.

    ``path`` is the path as received (percent-escapes kept), ``query`` the query without ``?`` (``None`` or
    ``""``: none). ``headers`` holds the fields the signature needs, by lower-case name. ``body_sha256`` is
    the base64 SHA-256 of the body you received: with it Tronch also checks the signed ``Content-Digest``
    against the body; without it that check is yours. ``authority`` and ``scheme`` are needed only by
    signatures that cover ``@authority``, ``@scheme`` or ``@target-uri``.
    """

    method: str
    path: str
    headers: Dict[str, str] = field(default_factory=dict)
    query: Optional[str] = None
    body_sha256: Optional[str] = None
    authority: Optional[str] = None
    scheme: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        """The ``request`` object of ``POST /api/v1/keys/verify``."""
        body: Dict[str, Any] = {"method": self.method, "path": self.path, "headers": dict(self.headers)}
        for name in ("query", "authority", "scheme", "body_sha256"):
            value = getattr(self, name)
            if value:
                body[name] = value
        return body


def _covered_fields(signature_input: str) -> Optional[List[str]]:
    """The header fields covered by the first signature of a ``Signature-Input`` field (``None`` if it
    cannot be read)."""
    match = _FIRST_SIGNATURE.match(signature_input)
    if not match:
        return None
    return [name for name in re.findall(r'"([^"]*)"', match.group(1)) if not name.startswith("@")]


def signed_request_from(
    method: str,
    url: str,
    headers: HeadersInput,
    body: Optional[Union[bytes, bytearray, memoryview, str]] = None,
    *,
    body_sha256: Optional[str] = None,
) -> SignedRequestInfo:
    """Builds the ``request`` argument of ``keys.verify`` from the request your API received.

    ``url`` is the received URL, absolute or just its path and query (``request.full_path`` in Flask,
    ``request.get_full_path()`` in Django; in Starlette and FastAPI ``scope["raw_path"]`` and
    ``scope["query_string"]``, as ``request.url`` decodes the path), with the path as the client sent it,
    percent-escapes kept: that is what was signed. With a host, ``authority`` and ``scheme`` are filled in
    too. ``headers`` is a mapping or a list of ``(name, value)`` pairs (repeated fields are joined with
    ``, ``); only the signature fields and the header fields the signature covers are kept, so cookies and
    the like never reach Tronch. ``body`` is the raw body you received; its SHA-256 goes as
    ``body_sha256`` (or pass ``body_sha256`` yourself).
    """
    target = _Target.of(method, url)
    fields = _lowered(headers)
    covered = _covered_fields(fields.get("signature-input", ""))
    wanted = {"signature-input", "signature", "content-digest", *(covered or [])}
    digest = body_sha256
    if body is not None:
        if body_sha256 is not None:
            raise TypeError("pass body or body_sha256, not both")
        digest = _hash_body(body)
    return SignedRequestInfo(
        method=method,
        path=target.path,
        query=target.query or None,
        headers={name: value for name, value in fields.items() if name in wanted},
        body_sha256=digest,
        authority=target.authority,
        scheme=target.scheme,
    )


def request_argument(value: Union[SignedRequestInfo, Mapping[str, Any]]) -> Dict[str, Any]:
    """The ``request`` field of a verification, from a :class:`SignedRequestInfo` or a mapping with
    ``method``, ``path``, ``query``, ``headers`` and ``body`` (hashed here) or ``body_sha256``."""
    if isinstance(value, SignedRequestInfo):
        return value.to_dict()
    if not isinstance(value, Mapping):
        raise TypeError("request must be a SignedRequestInfo (see signed_request_from) or a mapping")
    result = dict(value)
    if "body" in result:
        body = result.pop("body")
        if body is not None:
            if result.get("body_sha256") is not None:
                raise TypeError("request: pass body or body_sha256, not both")
            result["body_sha256"] = _hash_body(body)
    if isinstance(result.get("headers"), (Mapping, list, tuple)):
        result["headers"] = _lowered(result["headers"])
    for name in ("query", "body_sha256", "authority", "scheme"):
        if result.get(name) is None:
            result.pop(name, None)
    return result
