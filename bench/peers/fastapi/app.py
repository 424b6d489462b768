"""Tronch's cached-key verification, written as a FastAPI app: the peer bench/peer compares Tronch with.

It does the work Tronch does for `POST /api/v1/keys/verify` when both the caller's key and the verified key
are in Tronch's cache, and nothing else:

- the caller's key from `Authorization: Bearer <key>` (or `X-API-Key`), checked for format and checksum,
  hashed (HMAC-SHA-256 under the pepper) and looked up in memory; it must be active, enabled, unexpired and
  hold `admin` or a scope covering `keys:verify`, else 401 or 403;
- the JSON body `{"key": "..."}` (unknown fields and a non-string key are a 400, as in Tronch);
- the key's format and CRC-32 checksum (docs/key-format.md), its HMAC digest, an in-memory lookup, the
  checks in Tronch's order (NOT_FOUND, REVOKED, DISABLED, EXPIRED, FORBIDDEN for an IP allowlist, since the
  request carries no address), and an answer with Tronch's fields, keys sorted as Tronch writes them.

Every key is loaded at start-up from a SQLite store Tronch created (`tronch bench seed`), so the peer never
reads the database afterwards, the best case of Tronch's cache. It does not rate-limit, spend credits, record
usage, `last_used_at`, metrics, an access log or request ids: bench/peer runs Tronch with rate limiting and
usage recording off so the two do the same verification work, and the rest is Tronch's overhead to explain.

Environment, read as Tronch reads it: TRONCH_DATABASE_URL (`sqlite://PATH`), TRONCH_KEY_PEPPER (its UTF-8
bytes are the HMAC key, hexadecimal or not) or TRONCH_KEY_PEPPER_FILE (trimmed text), else the embedded
store's `$TRONCH_DATA_DIR/pepper`.
"""

import hashlib
import hmac
import json
import os
import re
import sqlite3
import time
import zlib
from datetime import datetime, timezone

from fastapi import FastAPI, Request
from fastapi.responses import Response

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
BASE62 = {character: value for value, character in enumerate(ALPHABET)}
# `{prefix}_sk_{live|test}_{32 base62}{6 base62 checksum}`, the prefix 1-16 of [a-z0-9] (KeyFormat.swift).
KEY_FORMAT = re.compile(r"[a-z0-9]{1,16}_sk_(?:live|test)_[0-9A-Za-z]{32}[0-9A-Za-z]{6}")


def well_formed(key: str) -> bool:
    """Format and checksum: the CRC-32 of everything before the checksum, in base62, six digits."""
    if KEY_FORMAT.fullmatch(key) is None:
        return False
    checksum = 0
    for character in key[-6:]:
        checksum = checksum * 62 + BASE62[character]
    return checksum == zlib.crc32(key[:-6].encode())


def pepper() -> bytes:
    text = os.environ.get("TRONCH_KEY_PEPPER")
    if text is not None:
        return text.encode()
    path = os.environ.get("TRONCH_KEY_PEPPER_FILE") or os.path.join(os.environ.get("TRONCH_DATA_DIR", "tronch-data"), "pepper")
    with open(path, encoding="utf-8") as file:
        return file.read().strip().encode()


class Record:
    __slots__ = ("id", "name", "owner_id", "environment", "revoked", "enabled", "scopes", "meta", "allowed_ips",
                 "ends_at", "remaining")

    def __init__(self, row):
        (self.id, self.name, self.owner_id, self.environment, status, enabled, scopes, meta, allowed_ips,
         expires_at, grace_until, self.remaining) = row
        self.revoked = status == "revoked"
        self.enabled = bool(enabled)
        self.scopes = json.loads(scopes)
        self.meta = json.loads(meta)
        self.allowed_ips = json.loads(allowed_ips)
        ends = [instant for instant in (expires_at, grace_until) if instant is not None]
        self.ends_at = min(ends) if ends else None  # milliseconds since the epoch

    def code(self, now_ms: int) -> str:
        if self.revoked:
            return "REVOKED"
        if not self.enabled:
            return "DISABLED"
        if self.ends_at is not None and self.ends_at <= now_ms:
            return "EXPIRED"
        if self.allowed_ips:
            return "FORBIDDEN"
        return "VALID"


def load_keys() -> dict:
    url = os.environ.get("TRONCH_DATABASE_URL", "")
    if not url.startswith("sqlite://"):
        raise SystemExit("the peer reads a SQLite store: set TRONCH_DATABASE_URL=sqlite://PATH")
    path = url[len("sqlite://"):]
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT digest, id, name, owner_id, environment, status, enabled, scopes, meta, allowed_ips, expires_at,"
            " grace_until, remaining FROM api_keys"
        )
        return {bytes.fromhex(row[0]): Record(row[1:]) for row in rows}


KEYS = load_keys()
# Keyed once; each request copies the keyed state, as Tronch's KeyHasher does.
KEYED = hmac.new(pepper(), digestmod=hashlib.sha256)


def lookup(key: str):
    """The record of a well-formed key, or None."""
    if not well_formed(key):
        return None
    mac = KEYED.copy()
    mac.update(key.encode())
    return KEYS.get(mac.digest())


def format_instant(ms: int) -> str:
    """`2026-11-25T17:46:00.123Z`, as Tronch's Timestamp.format."""
    seconds, millis = divmod(ms, 1000)
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % millis


def covers(granted: str, requested: str) -> bool:
    if granted == "*":
        return True
    if granted.endswith("*"):
        return len(requested) > len(granted) - 1 and requested.startswith(granted[:-1])
    return granted == requested


def may_verify(scopes) -> bool:
    # `admin`, or a scope other than `*` covering the reserved `keys:verify` (Principal.allows).
    return "admin" in scopes or any(scope != "*" and covers(scope, "keys:verify") for scope in scopes)


def problem(status: int, code: str, title: str, detail: str, errors=None, challenge=None) -> Response:
    body = {"code": code, "detail": detail}
    if errors is not None:
        body["errors"] = errors
    body.update({"status": status, "title": title, "type": "urn:tronch:problem:" + code.lower().replace("_", "-")})
    headers = {"Cache-Control": "no-store"}
    if challenge:
        headers["WWW-Authenticate"] = challenge
    return Response(json.dumps(body, separators=(",", ":")), status_code=status, headers=headers,
                    media_type="application/problem+json")


def credential(request: Request):
    authorization = request.headers.get("authorization")
    if authorization is not None:
        scheme, _, token = authorization.strip(" ").partition(" ")
        token = token.strip(" \t")
        if scheme.lower() == "bearer" and token:
            return token
    return request.headers.get("x-api-key") or None


NULL_ANSWER = json.dumps(
    {"code": "NOT_FOUND", "environment": None, "expires_at": None, "key_id": None, "meta": None, "name": None,
     "owner_id": None, "ratelimits": None, "remaining": None, "scopes": None, "valid": False},
    separators=(",", ":"))
ANSWER_HEADERS = {"Cache-Control": "no-store"}

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@app.get("/api/v1/health")
async def health() -> Response:
    return Response('{"status":"ok"}', media_type="application/json")


@app.post("/api/v1/keys/verify")
async def verify(request: Request) -> Response:
    token = credential(request)
    if token is None:
        return problem(401, "UNAUTHENTICATED", "Unauthorized",
                       "send an API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                       challenge='Bearer realm="tronch"')
    now_ms = time.time_ns() // 1_000_000
    caller = lookup(token)
    if caller is None or caller.code(now_ms) != "VALID":
        return problem(401, "UNAUTHENTICATED", "Unauthorized", "the API key is not valid",
                       challenge='Bearer realm="tronch", error="invalid_token"')
    if not may_verify(caller.scopes):
        return problem(403, "FORBIDDEN", "Forbidden", "this key lacks the scope keys:verify")

    try:
        body = json.loads(await request.body())
    except ValueError:
        return problem(400, "VALIDATION_FAILED", "Bad Request", "the body is not valid JSON")
    if not isinstance(body, dict):
        return problem(400, "VALIDATION_FAILED", "Bad Request", "the body must be a JSON object")
    errors = [{"field": name, "message": "is not a known field"} for name in body if name != "key"]
    key = body.get("key")
    if "key" not in body:
        errors.append({"field": "key", "message": "is required"})
    elif not isinstance(key, str):
        errors.append({"field": "key", "message": "must be a string"})
    if errors:
        detail = "1 field is invalid" if len(errors) == 1 else f"{len(errors)} fields are invalid"
        return problem(400, "VALIDATION_FAILED", "Bad Request", detail, errors=errors)

    record = lookup(key)
    if record is None:
        return Response(NULL_ANSWER, headers=ANSWER_HEADERS, media_type="application/json")
    code = record.code(now_ms)
    answer = {
        "code": code,
        "environment": record.environment,
        "expires_at": None if record.ends_at is None else format_instant(record.ends_at),
        "key_id": record.id,
        "meta": record.meta,
        "name": record.name,
        "owner_id": record.owner_id,
        "ratelimits": None,
        "remaining": record.remaining,
        "scopes": record.scopes,
        "valid": code == "VALID",
    }
    return Response(json.dumps(answer, ensure_ascii=False, separators=(",", ":")), headers=ANSWER_HEADERS,
                    media_type="application/json")
