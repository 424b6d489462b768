"""Typed objects built from Tronch's JSON answers.

Every model is built leniently: fields the client does not know are ignored (a newer server may add some),
missing fields get an empty default, and the full JSON object is kept in ``.raw``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Generic, Iterator, List, Mapping, Optional, TypeVar, Union

__all__ = [
    "RateLimitPolicy",
    "RateLimitState",
    "Refill",
    "Key",
    "CreatedKey",
    "Verification",
    "VerificationCode",
    "UsageBucket",
    "UsageTotals",
    "LatencyPercentiles",
    "KeyUsage",
    "AuditActor",
    "AuditTarget",
    "AuditEntry",
    "Page",
    "TokenPair",
    "Introspection",
    "User",
    "Session",
    "TOTPEnrolment",
    "RecoveryCodes",
    "Group",
    "GroupMember",
    "ACLEntry",
    "Decision",
    "DecisionRule",
]

T = TypeVar("T")

_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?\s*([Zz]|[+-]\d{2}(?::?\d{2})?)?$"
)


def parse_datetime(value: Any) -> Optional[datetime]:
    """Parses an RFC 3339 timestamp (``2030-01-31T00:00:00.000Z``) into an aware datetime.

    Works on Python 3.9 and 3.10, whose ``fromisoformat`` rejects ``Z``. Returns ``None`` for ``None`` and for
    text that is not a timestamp (the original text stays in the model's ``raw``).
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        return None
    match = _DATETIME.match(value.strip())
    if not match:
        return None
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction = match.group(7) or ""
    microsecond = int((fraction + "000000")[:6]) if fraction else 0
    offset = match.group(8)
    tz: timezone
    if offset is None or offset in ("Z", "z"):
        tz = timezone.utc
    else:
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        hours = int(digits[:2])
        minutes = int(digits[2:4]) if len(digits) > 2 else 0
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=tz)
    except ValueError:
        return None


def format_datetime(value: Union[datetime, str]) -> str:
    """Formats a timestamp for a request: an aware datetime as RFC 3339 UTC with milliseconds; a string as is.

    A naive datetime is rejected: it is ambiguous, and Tronch compares instants.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise ValueError(
                "naive datetimes are ambiguous; pass an aware one, e.g. datetime.now(timezone.utc)"
            )
        utc = value.astimezone(timezone.utc)
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    raise TypeError(f"expected a datetime or an RFC 3339 string, got {type(value).__name__}")


def _dict(value: Any) -> Dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _opt_dict(value: Any) -> Optional[Dict[str, Any]]:
    return dict(value) if isinstance(value, Mapping) else None


def _list(value: Any) -> List[Any]:
    return list(value) if isinstance(value, list) else []


def _opt_str(value: Any) -> Optional[str]:
    return value if isinstance(value, str) else None


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _opt_int(value: Any) -> Optional[int]:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _int(value: Any) -> int:
    result = _opt_int(value)
    return 0 if result is None else result


def _counts(value: Any) -> Dict[str, int]:
    return {str(k): _int(v) for k, v in _dict(value).items()}


@dataclass(frozen=True)
class RateLimitPolicy:
    """A key's rate-limit policy: ``limit`` requests per ``period_seconds``, bursts of up to ``burst``.

    Also usable as input of ``keys.create`` and ``keys.update`` (``name`` defaults to ``default`` and
    ``burst`` to ``limit`` on the server)."""

    limit: int
    period_seconds: int
    name: str = "default"
    burst: Optional[int] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RateLimitPolicy":
        return cls(
            limit=_int(data.get("limit")),
            period_seconds=_int(data.get("period_seconds")),
            name=_str(data.get("name")) or "default",
            burst=_opt_int(data.get("burst")),
        )

    def to_dict(self) -> Dict[str, Any]:
        body: Dict[str, Any] = {"name": self.name, "limit": self.limit, "period_seconds": self.period_seconds}
        if self.burst is not None:
            body["burst"] = self.burst
        return body


@dataclass(frozen=True)
class Refill:
    """Credit refill: ``remaining`` is set back to ``amount`` every ``interval`` (``daily`` or ``monthly``)."""

    interval: str
    amount: int

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Refill":
        return cls(interval=_str(data.get("interval")), amount=_int(data.get("amount")))

    def to_dict(self) -> Dict[str, Any]:
        return {"interval": self.interval, "amount": self.amount}


@dataclass(frozen=True)
class RateLimitState:
    """The state of one rate-limit policy after a verification."""

    name: str
    limit: int
    remaining: int
    reset_seconds: int

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RateLimitState":
        return cls(
            name=_str(data.get("name")),
            limit=_int(data.get("limit")),
            remaining=_int(data.get("remaining")),
            reset_seconds=_int(data.get("reset_seconds")),
        )


@dataclass(frozen=True)
class Key:
    """A key as Tronch returns it (never its secret). Timestamps are aware UTC datetimes."""

    id: str = ""
    name: Optional[str] = None
    owner_id: Optional[str] = None
    environment: str = ""
    status: str = ""
    enabled: bool = True
    scopes: List[str] = field(default_factory=list)
    meta: Dict[str, Any] = field(default_factory=dict)
    start: str = ""
    end: str = ""
    created_at: Optional[datetime] = None
    updated_at: Optional[datetime] = None
    expires_at: Optional[datetime] = None
    last_used_at: Optional[datetime] = None
    revoked_at: Optional[datetime] = None
    created_by: Optional[str] = None
    rotated_from: Optional[str] = None
    grace_until: Optional[datetime] = None
    allowed_ips: List[str] = field(default_factory=list)
    ratelimits: List[RateLimitPolicy] = field(default_factory=list)
    remaining: Optional[int] = None
    refill: Optional[Refill] = None
    # Whether the key signs its requests (created or rotated with signing=True; docs/signed-requests.md).
    signing: bool = False
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @staticmethod
    def _fields(data: Mapping[str, Any]) -> Dict[str, Any]:
        refill = data.get("refill")
        enabled = data.get("enabled")
        return dict(
            id=_str(data.get("id")),
            name=_opt_str(data.get("name")),
            owner_id=_opt_str(data.get("owner_id")),
            environment=_str(data.get("environment")),
            status=_str(data.get("status")),
            enabled=enabled if isinstance(enabled, bool) else True,
            scopes=[s for s in _list(data.get("scopes")) if isinstance(s, str)],
            meta=_dict(data.get("meta")),
            start=_str(data.get("start")),
            end=_str(data.get("end")),
            created_at=parse_datetime(data.get("created_at")),
            updated_at=parse_datetime(data.get("updated_at")),
            expires_at=parse_datetime(data.get("expires_at")),
            last_used_at=parse_datetime(data.get("last_used_at")),
            revoked_at=parse_datetime(data.get("revoked_at")),
            created_by=_opt_str(data.get("created_by")),
            rotated_from=_opt_str(data.get("rotated_from")),
            grace_until=parse_datetime(data.get("grace_until")),
            allowed_ips=[s for s in _list(data.get("allowed_ips")) if isinstance(s, str)],
            ratelimits=[
                RateLimitPolicy.from_dict(p) for p in _list(data.get("ratelimits")) if isinstance(p, Mapping)
            ],
            remaining=_opt_int(data.get("remaining")),
            refill=Refill.from_dict(refill) if isinstance(refill, Mapping) else None,
            signing=data.get("signing") is True,
            raw=dict(data),
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Key":
        return cls(**cls._fields(data))

    @property
    def hint(self) -> str:
        """The display hint ``tronch_sk_live_oTwF…YoWC`` (never the secret)."""
        return f"{self.start}\u2026{self.end}"

    @property
    def principal(self) -> str:
        """The key as a principal of ACL entries and checks: ``key:<id>``."""
        return f"key:{self.id}"


@dataclass(frozen=True)
class CreatedKey(Key):
    """A key just created or rotated, with its secret in ``.key`` and, for a key that signs its requests,
    the secret it signs them with in ``.signing_secret`` (``None`` otherwise). Both are shown only in this
    answer; they are left out of ``repr()`` so that they do not end up in logs."""

    key: str = field(default="", repr=False)
    signing_secret: Optional[str] = field(default=None, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "CreatedKey":
        return cls(key=_str(data.get("key")), signing_secret=_opt_str(data.get("signing_secret")),
                   **cls._fields(data))


class VerificationCode:
    """The verification codes, in the order Tronch checks them. Later servers may add codes."""

    VALID = "VALID"
    NOT_FOUND = "NOT_FOUND"
    REVOKED = "REVOKED"
    DISABLED = "DISABLED"
    EXPIRED = "EXPIRED"
    FORBIDDEN = "FORBIDDEN"
    # For a key that signs its requests (see tronch.sign_request and keys.verify(..., request=...)):
    SIGNATURE_INVALID = "SIGNATURE_INVALID"  # no request, a malformed signature, too little covered, or wrong
    SIGNATURE_EXPIRED = "SIGNATURE_EXPIRED"  # created more than five minutes from now, or past its expires
    SIGNATURE_REPLAYED = "SIGNATURE_REPLAYED"  # its nonce was accepted before for this key
    INSUFFICIENT_SCOPES = "INSUFFICIENT_SCOPES"
    RATE_LIMITED = "RATE_LIMITED"
    USAGE_EXCEEDED = "USAGE_EXCEEDED"


@dataclass(frozen=True)
class Verification:
    """The verdict on a key. ``valid`` is true exactly when ``code`` is ``VALID``.

    ``bool(verification)`` is ``verification.valid``, so ``if client.keys.verify(key):`` does the right thing.
    For ``NOT_FOUND`` every field but ``valid`` and ``code`` is ``None``.
    """

    valid: bool
    code: str
    key_id: Optional[str] = None
    name: Optional[str] = None
    owner_id: Optional[str] = None
    environment: Optional[str] = None
    scopes: Optional[List[str]] = None
    meta: Optional[Dict[str, Any]] = None
    expires_at: Optional[datetime] = None
    remaining: Optional[int] = None
    ratelimits: Optional[List[RateLimitState]] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __bool__(self) -> bool:
        return self.valid

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Verification":
        scopes = data.get("scopes")
        ratelimits = data.get("ratelimits")
        return cls(
            valid=data.get("valid") is True,
            code=_str(data.get("code")),
            key_id=_opt_str(data.get("key_id")),
            name=_opt_str(data.get("name")),
            owner_id=_opt_str(data.get("owner_id")),
            environment=_opt_str(data.get("environment")),
            scopes=[s for s in scopes if isinstance(s, str)] if isinstance(scopes, list) else None,
            meta=_opt_dict(data.get("meta")),
            expires_at=parse_datetime(data.get("expires_at")),
            remaining=_opt_int(data.get("remaining")),
            ratelimits=(
                [RateLimitState.from_dict(r) for r in ratelimits if isinstance(r, Mapping)]
                if isinstance(ratelimits, list)
                else None
            ),
            raw=dict(data),
        )


@dataclass(frozen=True)
class UsageBucket:
    """One bucket of a usage series (buckets without traffic are left out by the server)."""

    start: Optional[datetime]
    verifications: Dict[str, int] = field(default_factory=dict)
    requests: Dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "UsageBucket":
        return cls(
            start=parse_datetime(data.get("start")),
            verifications=_counts(data.get("verifications")),
            requests=_counts(data.get("requests")),
        )


@dataclass(frozen=True)
class UsageTotals:
    verifications: Dict[str, int] = field(default_factory=dict)
    requests: Dict[str, int] = field(default_factory=dict)
    endpoints: Dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "UsageTotals":
        return cls(
            verifications=_counts(data.get("verifications")),
            requests=_counts(data.get("requests")),
            endpoints=_counts(data.get("endpoints")),
        )


@dataclass(frozen=True)
class LatencyPercentiles:
    """Upper bounds (ms) of the histogram buckets holding p50, p95 and p99; ``None`` without requests."""

    p50: Optional[int] = None
    p95: Optional[int] = None
    p99: Optional[int] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "LatencyPercentiles":
        return cls(p50=_opt_int(data.get("p50")), p95=_opt_int(data.get("p95")), p99=_opt_int(data.get("p99")))


@dataclass(frozen=True)
class KeyUsage:
    """A key's usage over time: verifications by outcome and its requests on Tronch's API."""

    key_id: str
    from_: Optional[datetime]
    to: Optional[datetime]
    granularity: str
    series: List[UsageBucket] = field(default_factory=list)
    totals: UsageTotals = field(default_factory=UsageTotals)
    latency_ms: LatencyPercentiles = field(default_factory=LatencyPercentiles)
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "KeyUsage":
        return cls(
            key_id=_str(data.get("key_id")),
            from_=parse_datetime(data.get("from")),
            to=parse_datetime(data.get("to")),
            granularity=_str(data.get("granularity")),
            series=[UsageBucket.from_dict(b) for b in _list(data.get("series")) if isinstance(b, Mapping)],
            totals=UsageTotals.from_dict(_dict(data.get("totals"))),
            latency_ms=LatencyPercentiles.from_dict(_dict(data.get("latency_ms"))),
            raw=dict(data),
        )


@dataclass(frozen=True)
class AuditActor:
    """Who caused an event: ``kind`` is ``key`` (with ``id``), ``system`` or ``anonymous``."""

    kind: str
    id: Optional[str] = None


@dataclass(frozen=True)
class AuditTarget:
    """What an event concerns, e.g. ``AuditTarget(type="key", id=...)``."""

    type: Optional[str]
    id: Optional[str] = None


@dataclass(frozen=True)
class AuditEntry:
    """One entry of the hash-chained audit log."""

    id: str
    sequence: int
    time: Optional[datetime]
    actor: AuditActor
    action: str
    outcome: str
    target: Optional[AuditTarget] = None
    request_id: Optional[str] = None
    client_ip: Optional[str] = None
    user_agent: Optional[str] = None
    details: Dict[str, Any] = field(default_factory=dict)
    previous_hash: str = ""
    hash: str = ""
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "AuditEntry":
        actor = _dict(data.get("actor"))
        target = data.get("target")
        return cls(
            id=_str(data.get("id")),
            sequence=_int(data.get("sequence")),
            time=parse_datetime(data.get("time")),
            actor=AuditActor(kind=_str(actor.get("kind")), id=_opt_str(actor.get("id"))),
            action=_str(data.get("action")),
            outcome=_str(data.get("outcome")),
            target=(
                AuditTarget(type=_opt_str(target.get("type")), id=_opt_str(target.get("id")))
                if isinstance(target, Mapping)
                else None
            ),
            request_id=_opt_str(data.get("request_id")),
            client_ip=_opt_str(data.get("client_ip")),
            user_agent=_opt_str(data.get("user_agent")),
            details=_dict(data.get("details")),
            previous_hash=_str(data.get("previous_hash")),
            hash=_str(data.get("hash")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: its items and the cursor of the next page (``None`` on the last page)."""

    data: List[T]
    next_cursor: Optional[str]
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class TokenPair:
    """The answer of a login and of a refresh: a short-lived access token (a JWT, sent as
    ``Authorization: Bearer``), the refresh token that gets the next pair, and their session.

    Both tokens are secrets: they are left out of ``repr()`` and ``str()`` (and so of logs that print the
    pair). ``expires_at`` is computed from ``expires_in`` when the answer arrived, by the local clock.
    """

    access_token: str = field(default="", repr=False)
    refresh_token: str = field(default="", repr=False)
    token_type: str = "Bearer"
    expires_in: int = 0
    session_id: str = ""
    expires_at: Optional[datetime] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TokenPair":
        expires_in = _int(data.get("expires_in"))
        return cls(
            access_token=_str(data.get("access_token")),
            refresh_token=_str(data.get("refresh_token")),
            token_type=_str(data.get("token_type")) or "Bearer",
            expires_in=expires_in,
            session_id=_str(data.get("session_id")),
            expires_at=datetime.now(timezone.utc) + timedelta(seconds=expires_in) if expires_in > 0 else None,
            raw=dict(data),
        )


@dataclass(frozen=True)
class Introspection:
    """What Tronch says about a token (RFC 7662). ``active`` is false for anything that is not a live token
    (unknown, expired, revoked, of an ended session, malformed), and then every other field is ``None``.

    ``token_type`` is ``access_token`` or ``refresh_token``; ``exp`` and ``iat`` are seconds since the epoch
    (``expires_at`` and ``issued_at`` as datetimes). ``bool(introspection)`` is ``introspection.active``.
    """

    active: bool
    token_type: Optional[str] = None
    sub: Optional[str] = None
    scope: Optional[str] = None
    iss: Optional[str] = None
    aud: Optional[str] = None
    jti: Optional[str] = None
    sid: Optional[str] = None
    exp: Optional[int] = None
    iat: Optional[int] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __bool__(self) -> bool:
        return self.active

    @property
    def scopes(self) -> List[str]:
        """``scope`` split on spaces."""
        return (self.scope or "").split()

    @property
    def expires_at(self) -> Optional[datetime]:
        return None if self.exp is None else datetime.fromtimestamp(self.exp, timezone.utc)

    @property
    def issued_at(self) -> Optional[datetime]:
        return None if self.iat is None else datetime.fromtimestamp(self.iat, timezone.utc)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Introspection":
        return cls(
            active=data.get("active") is True,
            token_type=_opt_str(data.get("token_type")),
            sub=_opt_str(data.get("sub")),
            scope=_opt_str(data.get("scope")),
            iss=_opt_str(data.get("iss")),
            aud=_opt_str(data.get("aud")),
            jti=_opt_str(data.get("jti")),
            sid=_opt_str(data.get("sid")),
            exp=_opt_int(data.get("exp")),
            iat=_opt_int(data.get("iat")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class User:
    """A person who signs in to Tronch (never their password or its hash).

    ``role`` is ``admin``, ``member`` or ``viewer``; ``status`` ``active`` or ``disabled``. ``locked_until``
    is set while failed logins keep the account locked (``locked`` tells whether it still is).
    """

    id: str = ""
    username: str = ""
    email: str = ""
    display_name: Optional[str] = None
    role: str = ""
    status: str = ""
    locked_until: Optional[datetime] = None
    mfa_enabled: bool = False
    created_at: Optional[datetime] = None
    updated_at: Optional[datetime] = None
    last_login_at: Optional[datetime] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def locked(self) -> bool:
        """Whether ``locked_until`` is in the future (by the local clock)."""
        return self.locked_until is not None and self.locked_until > datetime.now(timezone.utc)

    @property
    def principal(self) -> str:
        """The user as a principal of groups, ACL entries and checks: ``user:<id>``."""
        return f"user:{self.id}"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "User":
        return cls(
            id=_str(data.get("id")),
            username=_str(data.get("username")),
            email=_str(data.get("email")),
            display_name=_opt_str(data.get("display_name")),
            role=_str(data.get("role")),
            status=_str(data.get("status")),
            locked_until=parse_datetime(data.get("locked_until")),
            mfa_enabled=data.get("mfa_enabled") is True,
            created_at=parse_datetime(data.get("created_at")),
            updated_at=parse_datetime(data.get("updated_at")),
            last_login_at=parse_datetime(data.get("last_login_at")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class Session:
    """One login and the refresh tokens that continue it. ``id`` is the login's ``session_id`` and the
    ``sid`` claim of its access tokens; ``expires_at`` is its absolute end; ``amr`` says how the person
    authenticated (``["pwd"]``, or ``["pwd", "otp"]`` / ``["pwd", "recovery_code"]`` with a second
    factor)."""

    id: str = ""
    user_id: str = ""
    created_at: Optional[datetime] = None
    last_seen_at: Optional[datetime] = None
    expires_at: Optional[datetime] = None
    ip: Optional[str] = None
    user_agent: Optional[str] = None
    amr: List[str] = field(default_factory=list)
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Session":
        return cls(
            id=_str(data.get("id")),
            user_id=_str(data.get("user_id")),
            created_at=parse_datetime(data.get("created_at")),
            last_seen_at=parse_datetime(data.get("last_seen_at")),
            expires_at=parse_datetime(data.get("expires_at")),
            ip=_opt_str(data.get("ip")),
            user_agent=_opt_str(data.get("user_agent")),
            amr=[s for s in _list(data.get("amr")) if isinstance(s, str)],
            raw=dict(data),
        )


@dataclass(frozen=True)
class TOTPEnrolment:
    """A pending TOTP factor (RFC 6238: SHA-1, 6 digits, 30 seconds), from ``client.users.enrol_totp()``.

    ``secret`` is the shared secret in base32 without padding (for apps where it is typed in) and
    ``otpauth_uri`` the same secret as a key URI (``otpauth://totp/Tronch:<username>?secret=…``), to show as
    a QR code. Both are shown this once and are secrets: they are left out of ``repr()`` and ``str()``.
    Nothing changes for logins until ``client.users.confirm_totp(code)`` proves the app has the secret.
    """

    secret: str = field(default="", repr=False)
    otpauth_uri: str = field(default="", repr=False)
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TOTPEnrolment":
        return cls(secret=_str(data.get("secret")), otpauth_uri=_str(data.get("otpauth_uri")), raw=dict(data))


@dataclass(frozen=True)
class RecoveryCodes:
    """A set of single-use recovery codes (``xxxx-xxxx-xxxx-xxxx``), from ``confirm_totp`` and
    ``regenerate_recovery_codes``: shown this once (Tronch keeps only their HMACs), each usable once instead
    of a TOTP code, to finish a login or to disable TOTP. A new set replaces the old one entirely.

    Iterate over it, index it, or read ``codes``; the codes are secrets, left out of ``repr()`` and ``str()``.
    """

    codes: List[str] = field(default_factory=list, repr=False)
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __iter__(self) -> Iterator[str]:
        return iter(self.codes)

    def __repr__(self) -> str:
        return f"RecoveryCodes(<{len(self.codes)} codes redacted>)"

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, index: int) -> str:
        return self.codes[index]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RecoveryCodes":
        return cls(codes=[c for c in _list(data.get("recovery_codes")) if isinstance(c, str)], raw=dict(data))


@dataclass(frozen=True)
class Group:
    """A group of users and other groups (nested up to 16 levels), named by ACL entries as ``group:<id>``.

    ``mfa_required`` makes every member, directly or through nesting, enrol a second factor."""

    id: str = ""
    name: str = ""
    description: Optional[str] = None
    mfa_required: bool = False
    created_at: Optional[datetime] = None
    updated_at: Optional[datetime] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def principal(self) -> str:
        """The group as a principal of memberships, ACL entries and checks: ``group:<id>``."""
        return f"group:{self.id}"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Group":
        return cls(
            id=_str(data.get("id")),
            name=_str(data.get("name")),
            description=_opt_str(data.get("description")),
            mfa_required=data.get("mfa_required") is True,
            created_at=parse_datetime(data.get("created_at")),
            updated_at=parse_datetime(data.get("updated_at")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class GroupMember:
    """A direct member of a group: ``principal`` is ``user:<id>`` or ``group:<id>``, ``type`` ``user`` or
    ``group``, ``id`` the id alone."""

    principal: str = ""
    type: str = ""
    added_at: Optional[datetime] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def id(self) -> str:
        """The member's id, without its ``user:`` or ``group:`` prefix."""
        return self.principal.partition(":")[2]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "GroupMember":
        return cls(
            principal=_str(data.get("principal")),
            type=_str(data.get("type")),
            added_at=parse_datetime(data.get("added_at")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class ACLEntry:
    """An allow or deny entry: ``principal`` (``user:<id>``, ``group:<id>`` or ``key:<id>``) may or may not do
    ``action`` (a name, or ``*`` for every action) on ``resource`` (``type:segment/segment/...``).

    ``kind`` ``acl`` applies to the resource itself; ``dacl`` is a default for every descendant of the
    resource (not the resource itself), unless a nearer one overrides it. ``created_by`` says who made it,
    as a key's ``created_by`` does: the calling key's id, or ``user:<id>`` for a person's access token."""

    id: str = ""
    resource: str = ""
    principal: str = ""
    action: str = ""
    effect: str = ""
    kind: str = ""
    created_at: Optional[datetime] = None
    created_by: Optional[str] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ACLEntry":
        return cls(
            id=_str(data.get("id")),
            resource=_str(data.get("resource")),
            principal=_str(data.get("principal")),
            action=_str(data.get("action")),
            effect=_str(data.get("effect")),
            kind=_str(data.get("kind")),
            created_at=parse_datetime(data.get("created_at")),
            created_by=_opt_str(data.get("created_by")),
            raw=dict(data),
        )


class DecisionRule:
    """The rules that decide a check, in the order Tronch applies them (first match wins). Later servers may
    add rules."""

    ACL_DENY = "acl_deny"
    ACL_ALLOW = "acl_allow"
    DACL_DENY = "dacl_deny"
    DACL_ALLOW = "dacl_allow"
    FALLBACK = "fallback"
    KEY_SCOPE = "key_scope"


@dataclass(frozen=True)
class Decision:
    """The answer to a check: whether the principal may do the action on the resource, and why.

    ``rule`` is one of :class:`DecisionRule` (``acl_deny``, ``acl_allow``, ``dacl_deny``, ``dacl_allow``,
    ``fallback``, ``key_scope``); ``entry_id`` is the entry that decided and ``resource`` the resource it is
    on (the resource itself for an ACL, the ancestor for a DACL); both are ``None`` for ``fallback`` and
    ``key_scope``. ``bool(decision)`` is ``decision.allowed``, so ``if client.authz.check(...):`` works.
    """

    allowed: bool
    rule: str = ""
    entry_id: Optional[str] = None
    resource: Optional[str] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __bool__(self) -> bool:
        return self.allowed

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Decision":
        reason = _dict(data.get("reason"))
        return cls(
            allowed=data.get("allowed") is True,
            rule=_str(reason.get("rule")),
            entry_id=_opt_str(reason.get("entry_id")),
            resource=_opt_str(reason.get("resource")),
            raw=dict(data),
        )
