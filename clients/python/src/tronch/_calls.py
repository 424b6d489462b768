"""The typed API described once: for each method of ``client.keys``, ``client.audit_logs``, ``client.users``,
``client.sessions``, ``client.auth``, ``client.groups``, ``client.acl_entries`` and ``client.authz``, a function
that checks the arguments and describes the request and how its answer becomes the result (a :class:`Call`,
or a :class:`Listing` for a list read page by page). Nothing here sends anything: ``_resources`` turns each
function into a method of the synchronous client and of the asynchronous one."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, TypeVar, Union
from urllib.parse import quote

from ._core import API_PREFIX, Call, Listing, Reply, api_call
from ._errors import MFARequiredError, TronchError
from ._signing import SignedRequestInfo, request_argument
from ._models import (
    ACLEntry,
    AuditEntry,
    CreatedKey,
    Decision,
    Group,
    GroupMember,
    Introspection,
    Key,
    KeyUsage,
    Page,
    RateLimitPolicy,
    RecoveryCodes,
    Refill,
    Session,
    TokenPair,
    TOTPEnrolment,
    User,
    Verification,
    format_datetime,
)

__all__ = [
    "KeysCalls",
    "AuditLogsCalls",
    "UsersCalls",
    "SessionsCalls",
    "AuthCalls",
    "GroupsCalls",
    "ACLEntriesCalls",
    "AuthzCalls",
    "NOT_GIVEN",
    "NotGiven",
    "PrincipalInput",
    "CheckInput",
    "MAX_BATCH_CHECKS",
]

T = TypeVar("T")

Timestamp = Union[datetime, str]
PolicyInput = Union[RateLimitPolicy, Mapping[str, Any]]
RefillInput = Union[Refill, Mapping[str, Any]]
# A principal: "user:<id>", "group:<id>" or "key:<id>", or the User, Group or Key (CreatedKey) itself.
PrincipalInput = Union[str, User, Group, Key]
# One question of a batch: {"principal": ..., "action": ..., "resource": ...} or (principal, action, resource).
CheckInput = Union[Mapping[str, Any], Sequence[Any]]

MAX_BATCH_CHECKS = 100


class NotGiven:
    """The type of :data:`NOT_GIVEN`: "leave this field out of the request" (``None`` sends ``null``)."""

    _instance: Optional["NotGiven"] = None

    def __new__(cls) -> "NotGiven":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN = NotGiven()


def _nothing(answer: Any) -> None:
    return None


def _document(reply: Reply) -> Dict[str, Any]:
    answer = reply.json()
    return dict(answer) if isinstance(answer, Mapping) else {}


def _imported(answer: Any) -> List[Key]:
    return [Key.from_dict(item) for item in answer.get("data", [])]


def _page(answer: Any, item: Callable[[Mapping[str, Any]], T]) -> Page[T]:
    return Page(
        data=[item(x) for x in answer.get("data") or [] if isinstance(x, Mapping)],
        next_cursor=answer.get("next_cursor") or None,
        raw=answer,
    )


def _listing(
    path: str, params: Mapping[str, Any], item: Callable[[Mapping[str, Any]], T], cursor: Optional[str]
) -> Listing[T]:
    """A list at ``path`` with the filters ``params``, read page by page from ``cursor``."""

    def page(page_cursor: Optional[str]) -> Call[Page[T]]:
        return api_call("GET", path, lambda answer: _page(answer, item), params={**params, "cursor": page_cursor})

    return Listing(page, cursor)


def _path_id(value: str, what: str = "id") -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string")
    return quote(value, safe="")


def _string_list(value: Sequence[str], name: str) -> List[str]:
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a list of strings, not a single string")
    return list(value)


def _policies(value: Sequence[PolicyInput]) -> List[Dict[str, Any]]:
    if isinstance(value, (str, bytes, Mapping)):
        raise TypeError("ratelimits must be a list of policies")
    return [p.to_dict() if isinstance(p, RateLimitPolicy) else dict(p) for p in value]


def _refill(value: Optional[RefillInput]) -> Optional[Dict[str, Any]]:
    if value is None:
        return None
    return value.to_dict() if isinstance(value, Refill) else dict(value)


def _span(value: Union[int, str, timedelta]) -> str:
    if isinstance(value, timedelta):
        return str(int(value.total_seconds()))
    return str(value)


def _timestamp_param(value: Optional[Timestamp]) -> Optional[str]:
    return None if value is None else format_datetime(value)


def _one_of(name_a: str, a: Optional[Timestamp], name_b: str, b: Optional[Timestamp]) -> Optional[Timestamp]:
    if a is not None and b is not None:
        raise TypeError(f"pass {name_a} or {name_b}, not both")
    return a if a is not None else b


class KeysCalls:
    """The requests of ``client.keys`` (:class:`Keys` and :class:`AsyncKeys`)."""


    @staticmethod
    def create(
        *,
        name: Optional[str] = None,
        owner_id: Optional[str] = None,
        environment: Optional[str] = None,
        scopes: Optional[Sequence[str]] = None,
        meta: Optional[Mapping[str, Any]] = None,
        enabled: Optional[bool] = None,
        expires_at: Optional[Timestamp] = None,
        allowed_ips: Optional[Sequence[str]] = None,
        ratelimits: Optional[Sequence[PolicyInput]] = None,
        remaining: Optional[int] = None,
        refill: Optional[RefillInput] = None,
        signing: Optional[bool] = None,
        extra_fields: Optional[Mapping[str, Any]] = None,
    ) -> Call[CreatedKey]:
        """Creates a key (``POST /api/v1/keys``, scope ``keys:write``). Arguments left as ``None`` are not
        sent and take the server's default. The secret is in the answer's ``.key`` and nowhere else, ever.

        ``signing=True`` makes a key that signs its requests (RFC 9421, see :func:`tronch.sign_request`):
        the answer's ``.signing_secret`` is the secret it signs with, shown only this once too.

        ``extra_fields`` is merged into the body as is, for fields newer than this client.
        This request is never retried after a connection error: it might have created the key.
        """
        body: Dict[str, Any] = {}
        if name is not None:
            body["name"] = name
        if owner_id is not None:
            body["owner_id"] = owner_id
        if environment is not None:
            body["environment"] = environment
        if scopes is not None:
            body["scopes"] = _string_list(scopes, "scopes")
        if meta is not None:
            body["meta"] = dict(meta)
        if enabled is not None:
            body["enabled"] = enabled
        if expires_at is not None:
            body["expires_at"] = format_datetime(expires_at)
        if allowed_ips is not None:
            body["allowed_ips"] = _string_list(allowed_ips, "allowed_ips")
        if ratelimits is not None:
            body["ratelimits"] = _policies(ratelimits)
        if remaining is not None:
            body["remaining"] = remaining
        if refill is not None:
            body["refill"] = _refill(refill)
        if signing is not None:
            body["signing"] = signing
        body.update(extra_fields or {})
        return api_call("POST", "/keys", CreatedKey.from_dict, json=body)

    @staticmethod
    def list(
        *,
        owner_id: Optional[str] = None,
        environment: Optional[str] = None,
        status: Optional[str] = None,
        name_prefix: Optional[str] = None,
        expiring_within: Optional[Union[int, str, timedelta]] = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> Listing[Key]:
        """Iterates over every key that matches the filters, newest first (``GET /api/v1/keys``, scope
        ``keys:read``), fetching page after page. ``limit`` is the page size (1-100, server default 50), not
        a cap on the number of keys: use ``itertools.islice`` to stop early. ``expiring_within`` takes
        seconds, a span such as ``"7d"``, or a ``timedelta``.
        """
        params: Dict[str, Any] = {
            "owner_id": owner_id,
            "environment": environment,
            "status": status,
            "name_prefix": name_prefix,
            "expiring_within": None if expiring_within is None else _span(expiring_within),
            "limit": limit,
        }

        return _listing("/keys", params, Key.from_dict, cursor)

    @staticmethod
    def get(id: str) -> Call[Key]:
        """Returns one key (``GET /api/v1/keys/{id}``, scope ``keys:read``); :class:`NotFoundError` if unknown."""
        return api_call("GET", f"/keys/{_path_id(id)}", Key.from_dict)

    @staticmethod
    def update(
        id: str,
        *,
        name: Union[str, None, NotGiven] = NOT_GIVEN,
        owner_id: Union[str, None, NotGiven] = NOT_GIVEN,
        scopes: Union[Sequence[str], NotGiven] = NOT_GIVEN,
        meta: Union[Mapping[str, Any], NotGiven] = NOT_GIVEN,
        enabled: Union[bool, NotGiven] = NOT_GIVEN,
        expires_at: Union[Timestamp, None, NotGiven] = NOT_GIVEN,
        allowed_ips: Union[Sequence[str], NotGiven] = NOT_GIVEN,
        ratelimits: Union[Sequence[PolicyInput], NotGiven] = NOT_GIVEN,
        remaining: Union[int, None, NotGiven] = NOT_GIVEN,
        refill: Union[RefillInput, None, NotGiven] = NOT_GIVEN,
        extra_fields: Optional[Mapping[str, Any]] = None,
    ) -> Call[Key]:
        """Changes some settings of a key (``PATCH /api/v1/keys/{id}``, scope ``keys:write``).

        Only the arguments you pass are sent. ``None`` clears ``name``, ``owner_id``, ``expires_at`` (never
        expires), ``remaining`` (unlimited) and ``refill``. Lists and ``meta`` replace the stored value.
        """
        body: Dict[str, Any] = {}
        if not isinstance(name, NotGiven):
            body["name"] = name
        if not isinstance(owner_id, NotGiven):
            body["owner_id"] = owner_id
        if not isinstance(scopes, NotGiven):
            body["scopes"] = None if scopes is None else _string_list(scopes, "scopes")
        if not isinstance(meta, NotGiven):
            body["meta"] = None if meta is None else dict(meta)
        if not isinstance(enabled, NotGiven):
            body["enabled"] = enabled
        if not isinstance(expires_at, NotGiven):
            body["expires_at"] = None if expires_at is None else format_datetime(expires_at)
        if not isinstance(allowed_ips, NotGiven):
            body["allowed_ips"] = None if allowed_ips is None else _string_list(allowed_ips, "allowed_ips")
        if not isinstance(ratelimits, NotGiven):
            body["ratelimits"] = None if ratelimits is None else _policies(ratelimits)
        if not isinstance(remaining, NotGiven):
            body["remaining"] = remaining
        if not isinstance(refill, NotGiven):
            body["refill"] = _refill(refill)
        body.update(extra_fields or {})
        return api_call("PATCH", f"/keys/{_path_id(id)}", Key.from_dict, json=body)

    @staticmethod
    def revoke(id: str) -> Call[Key]:
        """Revokes a key for good (``DELETE /api/v1/keys/{id}``, scope ``keys:write``) and returns it.
        Revoking a revoked key changes nothing and succeeds."""
        return api_call("DELETE", f"/keys/{_path_id(id)}", Key.from_dict)

    @staticmethod
    def rotate(
        id: str,
        *,
        grace_period_seconds: Optional[Union[int, timedelta]] = None,
        expires_at: Union[Timestamp, None, NotGiven] = NOT_GIVEN,
        signing: Optional[bool] = None,
    ) -> Call[CreatedKey]:
        """Replaces a key by a new one with the same settings and a new secret
        (``POST /api/v1/keys/{id}/rotate``, scope ``keys:write``). The old key keeps working for
        ``grace_period_seconds`` (server default 0: revoked at once; at most 30 days). ``expires_at`` sets
        the new key's expiry (``None``: never); left out, it keeps the old key's. ``signing`` says whether
        the new key signs its requests (left out: as the old key did); one that does gets a new
        ``.signing_secret``, and the old key keeps its own through the grace period.
        """
        body: Dict[str, Any] = {}
        if grace_period_seconds is not None:
            if isinstance(grace_period_seconds, timedelta):
                grace_period_seconds = int(grace_period_seconds.total_seconds())
            body["grace_period_seconds"] = grace_period_seconds
        if not isinstance(expires_at, NotGiven):
            body["expires_at"] = None if expires_at is None else format_datetime(expires_at)
        if signing is not None:
            body["signing"] = signing
        return api_call("POST", f"/keys/{_path_id(id)}/rotate", CreatedKey.from_dict, json=body)

    @staticmethod
    def verify(
        key: str,
        scopes: Optional[Sequence[str]] = None,
        ip: Optional[str] = None,
        cost: Optional[int] = None,
        request: Optional[Union[SignedRequestInfo, Mapping[str, Any]]] = None,
    ) -> Call[Verification]:
        """Checks a key for one request of your API (``POST /api/v1/keys/verify``, scope ``keys:verify``).

        Returns a :class:`Verification` for every outcome: an unknown, revoked or expired key is
        ``valid=False`` with a ``code``, not an exception. Exceptions mean that the verification itself
        failed (the calling key lacks ``keys:verify``, an invalid scope or address, Tronch unreachable).
        ``cost`` (default 1 on the server) is what the request spends in rate limits and credits; 0 spends
        nothing.

        ``request`` is the request the key came with, for a key that signs its requests: a
        :class:`SignedRequestInfo` (``tronch.signed_request_from(method, url, headers, body)``) or a mapping
        with ``method``, ``path``, ``query``, ``headers`` and ``body`` (hashed here, never sent) or
        ``body_sha256``. Tronch checks its signature (``SIGNATURE_INVALID``, ``SIGNATURE_EXPIRED``,
        ``SIGNATURE_REPLAYED``) and, given the body, that ``Content-Digest`` matches it. A key that does not
        sign ignores it; a signing key verified without it is ``SIGNATURE_INVALID``.
        """
        if not isinstance(key, str):
            raise TypeError("key must be a string")
        body: Dict[str, Any] = {"key": key}
        if scopes is not None:
            body["scopes"] = _string_list(scopes, "scopes")
        if ip is not None:
            body["ip"] = ip
        if cost is not None:
            body["cost"] = cost
        if request is not None:
            body["request"] = request_argument(request)
        return api_call("POST", "/keys/verify", Verification.from_dict, json=body)

    @staticmethod
    def import_keys(keys: Sequence[Mapping[str, Any]]) -> Call[List[Key]]:
        """Imports existing keys (``POST /api/v1/keys/import``, scope ``keys:write``): 1 to 1000 entries,
        each a create request plus its secret, ``"key"`` (plain text, hashed on arrival) or ``"hash"``
        (``{"algorithm": "sha256", "value": "<64 hex>"}``, upgraded on first successful verification).
        All or nothing: a :class:`ValidationError` names every bad entry (``keys[3].scopes[0]``), a
        :class:`ConflictError` the first key already stored. Returns the stored keys in order, never a
        secret. See docs/migrating.md.
        """
        entries = [dict(entry) for entry in keys]
        return api_call("POST", "/keys/import", _imported, json={"keys": entries})

    @staticmethod
    def usage(
        id: str,
        *,
        granularity: Optional[str] = None,
        from_: Optional[Timestamp] = None,
        to: Optional[Timestamp] = None,
    ) -> Call[KeyUsage]:
        """A key's usage over time (``GET /api/v1/keys/{id}/usage``, scope ``keys:read``). ``granularity``
        is ``minute``, ``hour`` (server default) or ``day``; ``from_`` defaults to 24 hours before ``to``,
        ``to`` to now."""
        params = {
            "granularity": granularity,
            "from": _timestamp_param(from_),
            "to": _timestamp_param(to),
        }
        return api_call("GET", f"/keys/{_path_id(id)}/usage", KeyUsage.from_dict, params=params)


class AuditLogsCalls:
    """The requests of ``client.audit_logs`` (:class:`AuditLogs` and :class:`AsyncAuditLogs`)."""


    @staticmethod
    def list(
        *,
        actor_id: Optional[str] = None,
        action: Optional[str] = None,
        target_type: Optional[str] = None,
        target_id: Optional[str] = None,
        outcome: Optional[str] = None,
        since: Optional[Timestamp] = None,
        until: Optional[Timestamp] = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
        from_: Optional[Timestamp] = None,
        to: Optional[Timestamp] = None,
    ) -> Listing[AuditEntry]:
        """Iterates over the audit entries that match the filters, newest first, across all pages
        (``GET /api/v1/audit-logs``, scope ``audit:read``).

        ``since`` (at or after) and ``until`` (before) are sent as the API's ``from`` and ``to``; ``from_``
        and ``to`` are accepted as the same. ``limit`` is the page size (1-100).
        """
        start = _one_of("since", since, "from_", from_)
        end = _one_of("until", until, "to", to)
        params: Dict[str, Any] = {
            "actor_id": actor_id,
            "action": action,
            "target_type": target_type,
            "target_id": target_id,
            "outcome": outcome,
            "from": _timestamp_param(start),
            "to": _timestamp_param(end),
            "limit": limit,
        }

        return _listing("/audit-logs", params, AuditEntry.from_dict, cursor)


def _secret(value: str, name: str) -> str:
    # Never echo the value: it is a password or a token.
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string")
    return value


def _second_factor(code: Optional[str], recovery_code: Optional[str]) -> Dict[str, Any]:
    if (code is None) == (recovery_code is None):
        raise TypeError("pass exactly one of code and recovery_code")
    if code is not None:
        return {"code": _secret(code, "code")}
    return {"recovery_code": _secret(recovery_code or "", "recovery_code")}


def _mfa_token(value: Union[str, MFARequiredError]) -> str:
    if isinstance(value, MFARequiredError):
        if value.mfa_token is None:
            raise ValueError("this MFA_REQUIRED answer carried no mfa_token")
        return value.mfa_token
    return _secret(value, "mfa_token")


class UsersCalls:
    """The requests of ``client.users`` (:class:`Users` and :class:`AsyncUsers`)."""


    @staticmethod
    def create(
        *,
        username: str,
        email: str,
        password: Optional[str] = None,
        display_name: Optional[str] = None,
        role: Optional[str] = None,
        extra_fields: Optional[Mapping[str, Any]] = None,
    ) -> Call[User]:
        """Creates a user (``POST /api/v1/users``, administrators only). ``role`` is ``admin``, ``member``
        (the server's default) or ``viewer``. Without ``password`` the user cannot log in until an
        administrator sets one (``update(id, password=...)``). A refused password is a
        :class:`ValidationError` naming the field ``password`` (at least 12 characters, not a common one, not
        containing the username, the e-mail's local part or "tronch"); a username or e-mail address already
        taken is a :class:`ConflictError`. Never retried after a connection error.
        """
        body: Dict[str, Any] = {"username": username, "email": email}
        if password is not None:
            body["password"] = _secret(password, "password")
        if display_name is not None:
            body["display_name"] = display_name
        if role is not None:
            body["role"] = role
        body.update(extra_fields or {})
        return api_call("POST", "/users", User.from_dict, json=body)

    @staticmethod
    def list(
        *,
        role: Optional[str] = None,
        status: Optional[str] = None,
        q: Optional[str] = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> Listing[User]:
        """Iterates over every user that matches, across all pages (``GET /api/v1/users``, administrators
        only). ``q`` is a case-insensitive substring of the username, e-mail address or display name;
        ``limit`` is the page size (1-100)."""
        params: Dict[str, Any] = {"role": role, "status": status, "q": q, "limit": limit}

        return _listing("/users", params, User.from_dict, cursor)

    @staticmethod
    def get(id: str) -> Call[User]:
        """One user (``GET /api/v1/users/{id}``): your own account, or anyone's for an administrator;
        :class:`NotFoundError` otherwise."""
        return api_call("GET", f"/users/{_path_id(id)}", User.from_dict)

    @staticmethod
    def me() -> Call[User]:
        """The account of the caller (``GET /api/v1/users/me``): the person logged in, or the owner of a key
        a user owns. :class:`NotFoundError` for a key no user owns (the root key, say)."""
        return api_call("GET", "/users/me", User.from_dict)

    @staticmethod
    def update(
        id: str,
        *,
        username: Union[str, NotGiven] = NOT_GIVEN,
        email: Union[str, NotGiven] = NOT_GIVEN,
        display_name: Union[str, None, NotGiven] = NOT_GIVEN,
        role: Union[str, NotGiven] = NOT_GIVEN,
        status: Union[str, NotGiven] = NOT_GIVEN,
        password: Union[str, NotGiven] = NOT_GIVEN,
        extra_fields: Optional[Mapping[str, Any]] = None,
    ) -> Call[User]:
        """Changes an account (``PATCH /api/v1/users/{id}``). Only the arguments you pass are sent;
        ``display_name=None`` clears it. An administrator may change everything; a person may change only
        their own ``display_name`` (anything else is :class:`PermissionDeniedError`).

        ``status="disabled"`` refuses every login, revokes the user's keys and ends their sessions;
        ``password`` (an administrator's reset) ends their sessions.
        """
        body: Dict[str, Any] = {}
        if not isinstance(username, NotGiven):
            body["username"] = username
        if not isinstance(email, NotGiven):
            body["email"] = email
        if not isinstance(display_name, NotGiven):
            body["display_name"] = display_name
        if not isinstance(role, NotGiven):
            body["role"] = role
        if not isinstance(status, NotGiven):
            body["status"] = status
        if not isinstance(password, NotGiven):
            body["password"] = _secret(password, "password")
        body.update(extra_fields or {})
        return api_call("PATCH", f"/users/{_path_id(id)}", User.from_dict, json=body)

    @staticmethod
    def delete(id: str) -> Call[User]:
        """Deletes a user (``DELETE /api/v1/users/{id}``, administrators only) and returns the account as it
        was. Their sessions end and their keys are revoked. Retried after a connection error like every
        ``DELETE``: if the first attempt went through, the retry raises :class:`NotFoundError`."""
        return api_call("DELETE", f"/users/{_path_id(id)}", User.from_dict)

    @staticmethod
    def unlock(id: str) -> Call[User]:
        """Clears a lock set by failed logins, and the failure count (``POST /api/v1/users/{id}/unlock``,
        administrators only)."""
        return api_call("POST", f"/users/{_path_id(id)}/unlock", User.from_dict)

    @staticmethod
    def change_password(*, current_password: str, new_password: str) -> Call[None]:
        """Changes the caller's own password (``POST /api/v1/users/me/password``). Ends the person's other
        sessions; the one making the change stays. A wrong ``current_password`` or a refused
        ``new_password`` is a :class:`ValidationError` naming that field. Never retried after a connection
        error."""
        body = {
            "current_password": _secret(current_password, "current_password"),
            "new_password": _secret(new_password, "new_password"),
        }
        return api_call("POST", "/users/me/password", _nothing, json=body)

    # -- second factors ---------------------------------------------------------------------------------

    @staticmethod
    def enrol_totp() -> Call[TOTPEnrolment]:
        """Starts adding a TOTP second factor to the caller's account (``POST /api/v1/users/me/mfa/totp``):
        a new secret for an authenticator app (``secret``, and ``otpauth_uri`` to show as a QR code), pending
        until :meth:`confirm_totp`. Starting again replaces a pending secret; with TOTP already enabled,
        :class:`ConflictError`. Needs a person (an access token, or a key a person owns): a key no user owns is
        :class:`NotFoundError`. Never retried after a connection error (a retry would replace the secret)."""
        return api_call("POST", "/users/me/mfa/totp", TOTPEnrolment.from_dict)

    @staticmethod
    def confirm_totp(code: str) -> Call[RecoveryCodes]:
        """Confirms the pending TOTP factor with a current code of the app
        (``POST /api/v1/users/me/mfa/totp/confirm``): TOTP is on (``mfa_enabled``), and the next logins need a
        code. Returns the ten recovery codes, shown this once. The code counts as used: the next login needs
        the app's next code. A wrong code is :class:`MFAInvalidError`; no pending enrolment
        :class:`ConflictError`. Sessions already open go on."""
        body = {"code": _secret(code, "code")}
        return api_call("POST", "/users/me/mfa/totp/confirm", RecoveryCodes.from_dict, json=body)

    @staticmethod
    def regenerate_recovery_codes(code: str) -> Call[RecoveryCodes]:
        """A new set of ten recovery codes for a current TOTP code (``POST /api/v1/users/me/mfa/recovery-codes``);
        the old set stops working at once. :class:`MFAInvalidError` for a wrong or used code, or without
        TOTP enabled."""
        body = {"code": _secret(code, "code")}
        return api_call("POST", "/users/me/mfa/recovery-codes", RecoveryCodes.from_dict, json=body)

    @staticmethod
    def disable_totp(*, code: Optional[str] = None, recovery_code: Optional[str] = None) -> Call[None]:
        """Removes the caller's TOTP factor and recovery codes (``DELETE /api/v1/users/me/mfa/totp``): logins
        need only the password again. Pass exactly one proof: a current TOTP ``code``, or a ``recovery_code``
        (a lost phone; it is used up). A refused proof is :class:`MFAInvalidError`. Not retried after a
        connection error (the proof may have been used up by the first attempt)."""
        body = _second_factor(code, recovery_code)
        # A DELETE, but with a single-use proof: a replay would present a used code and be refused.
        return api_call("DELETE", "/users/me/mfa/totp", _nothing, json=body, idempotent=False)

    @staticmethod
    def reset_mfa(id: str) -> Call[None]:
        """Removes every second factor of a user (``DELETE /api/v1/users/{id}/mfa``, administrators only), for
        someone who lost them all: their next login needs only the password. Resetting a user without a
        second factor changes nothing. A person resetting someone else's needs a second factor in their own
        session (step-up: :class:`MFARequiredError`, or :class:`MFAEnrollmentRequiredError` without one)."""
        return api_call("DELETE", f"/users/{_path_id(id)}/mfa", _nothing)


class SessionsCalls:
    """The requests of ``client.sessions`` (:class:`Sessions` and :class:`AsyncSessions`)."""


    @staticmethod
    def list(
        *,
        user_id: Optional[str] = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> Listing[Session]:
        """Iterates over the live sessions of the caller (``GET /api/v1/sessions``), or of ``user_id``
        (another person's needs an administrator; a key no user owns lists everyone's without it)."""
        params: Dict[str, Any] = {"user_id": user_id, "limit": limit}

        return _listing("/sessions", params, Session.from_dict, cursor)

    @staticmethod
    def revoke(id: str) -> Call[None]:
        """Ends a session (``DELETE /api/v1/sessions/{id}``): its refresh token stops working and its access
        tokens are refused at once. Ending an ended session succeeds. Ending the client's own session
        forgets the client's tokens."""
        return api_call("DELETE", f"/sessions/{_path_id(id)}", _nothing,
                        after=lambda client: client._forget_tokens(session_id=id))


class AuthCalls:
    """The requests of ``client.auth`` (:class:`Auth` and :class:`AsyncAuth`)."""


    @staticmethod
    def login(*, username: Optional[str] = None, email: Optional[str] = None, password: str) -> Call[TokenPair]:
        """Logs a person in with a password (``POST /api/v1/auth/login``; no credential needed) and returns
        their :class:`TokenPair`, without changing what the client sends: ``client.login()`` does both.

        Pass ``username`` or ``email``. Any refusal (unknown user, wrong password, disabled or locked
        account) is one :class:`InvalidCredentialsError`. Too many attempts from your address raise
        :class:`RateLimitError`. Never retried after a connection error.

        For an account with a second factor, a right password raises :class:`MFARequiredError`, whose
        ``mfa_token`` :meth:`complete_mfa` exchanges, with a code, for the tokens.
        """
        if (username is None) == (email is None):
            raise TypeError("pass exactly one of username and email")
        body: Dict[str, Any] = {"password": _secret(password, "password")}
        if username is not None:
            body["username"] = username
        else:
            body["email"] = email
        return api_call("POST", "/auth/login", TokenPair.from_dict, json=body, authenticate=False)

    @staticmethod
    def complete_mfa(
        mfa_token: Union[str, MFARequiredError],
        *,
        code: Optional[str] = None,
        recovery_code: Optional[str] = None,
    ) -> Call[TokenPair]:
        """Finishes a login (or a step-up) with a second factor (``POST /api/v1/auth/mfa``; no credential
        needed: the ``mfa_token`` is one) and returns the new :class:`TokenPair`, without changing what the
        client sends: ``client.complete_mfa()`` does both.

        ``mfa_token`` is the :class:`MFARequiredError`'s ``mfa_token`` (or the error itself). Pass exactly one
        of ``code`` (a current TOTP code) and ``recovery_code`` (used up). A refused code, or a dead token, is
        :class:`MFAInvalidError`; a wrong code counts toward the account's lock, and five kill the token.
        Never retried after a connection error.
        """
        body: Dict[str, Any] = {"mfa_token": _mfa_token(mfa_token)}
        body.update(_second_factor(code, recovery_code))
        return api_call("POST", "/auth/mfa", TokenPair.from_dict, json=body, authenticate=False)

    @staticmethod
    def logout() -> Call[None]:
        """Ends the caller's session (``POST /api/v1/auth/logout``) and forgets the client's tokens. With a
        key, nothing happens."""
        return api_call("POST", "/auth/logout", _nothing, after=lambda client: client._forget_tokens())

    @staticmethod
    def revoke(token: str, token_type_hint: Optional[str] = None) -> Call[None]:
        """Revokes an access or refresh token (``POST /api/v1/auth/revoke``, RFC 7009; no credential needed).

        An access token is refused from now on; a refresh token ends its whole session. Succeeds whatever
        the token (unknown, expired, already revoked). ``token_type_hint`` is ``access_token`` or
        ``refresh_token`` (only a hint: Tronch tells tokens apart by their shape and ignores any other
        value). Revoking the client's own refresh token forgets the client's tokens.
        """
        body: Dict[str, Any] = {"token": _secret(token, "token")}
        if token_type_hint is not None:
            body["token_type_hint"] = token_type_hint
        return api_call("POST", "/auth/revoke", _nothing, json=body, authenticate=False,
                        after=lambda client: client._forget_tokens(refresh_token=token))

    @staticmethod
    def introspect(token: str) -> Call[Introspection]:
        """What a token is (``POST /api/v1/auth/introspect``, RFC 7662; needs the scope ``tokens:introspect``
        or an administrator). An :class:`Introspection` that is ``active=False`` for anything not live."""
        body = {"token": _secret(token, "token")}
        return api_call("POST", "/auth/introspect", Introspection.from_dict, json=body)

    @staticmethod
    def jwks() -> Call[Dict[str, Any]]:
        """The public keys that verify access tokens (``GET /.well-known/jwks.json``, RFC 7517), for a
        service that checks tokens itself with a JWT library: ``{"keys": [{"kty", "kid", "alg", ...}]}``."""
        return Call("GET", "/.well-known/jwks.json", _document, authenticate=False)

    @staticmethod
    def metadata() -> Call[Dict[str, Any]]:
        """The authorization-server metadata (``GET /.well-known/oauth-authorization-server``, RFC 8414): the
        ``issuer``, the ``jwks_uri`` and the endpoints."""
        return Call("GET", "/.well-known/oauth-authorization-server", _document, authenticate=False)


def _principal(value: PrincipalInput, name: str = "principal") -> str:
    """``user:<id>``, ``group:<id>`` or ``key:<id>``: a string as is (the server checks it), or a model's."""
    if isinstance(value, (User, Group, Key)):
        if not value.id:
            raise ValueError(f"{name}: this {type(value).__name__} has no id")
        return value.principal
    if isinstance(value, str):
        if not value:
            raise ValueError(f"{name} must not be empty")
        return value
    raise TypeError(f"{name} must be a string such as 'user:<id>', or a User, Group or Key, not {type(value).__name__}")


def _principal_segment(value: PrincipalInput) -> str:
    # The ':' stays as is: Tronch reads the path segment literally (user%3A... is refused). ':' is allowed
    # in a path segment that is not the first (RFC 3986 pchar).
    return quote(_principal(value), safe=":")


def _boolean_param(value: Optional[bool]) -> Optional[str]:
    return None if value is None else ("true" if value else "false")


class GroupsCalls:
    """The requests of ``client.groups`` (:class:`Groups` and :class:`AsyncGroups`)."""


    @staticmethod
    def create(
        *,
        name: str,
        description: Optional[str] = None,
        mfa_required: Optional[bool] = None,
        extra_fields: Optional[Mapping[str, Any]] = None,
    ) -> Call[Group]:
        """Creates a group (``POST /api/v1/groups``). ``name`` is unique ignoring case (a taken one is a
        :class:`ConflictError`), at most 128 characters; ``description`` at most 1024. ``mfa_required=True``
        makes every member, directly or through nesting, enrol a second factor. Arguments left as ``None``
        are not sent. Never retried after a connection error."""
        body: Dict[str, Any] = {"name": name}
        if description is not None:
            body["description"] = description
        if mfa_required is not None:
            body["mfa_required"] = mfa_required
        body.update(extra_fields or {})
        return api_call("POST", "/groups", Group.from_dict, json=body)

    @staticmethod
    def list(
        *,
        q: Optional[str] = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> Listing[Group]:
        """Iterates over every group, newest first, across all pages (``GET /api/v1/groups``). ``q`` is a
        case-insensitive substring of the name; ``limit`` is the page size (1-100)."""
        params: Dict[str, Any] = {"q": q, "limit": limit}

        return _listing("/groups", params, Group.from_dict, cursor)

    @staticmethod
    def get(id: str) -> Call[Group]:
        """One group (``GET /api/v1/groups/{id}``); :class:`NotFoundError` if there is none."""
        return api_call("GET", f"/groups/{_path_id(id)}", Group.from_dict)

    @staticmethod
    def update(
        id: str,
        *,
        name: Union[str, NotGiven] = NOT_GIVEN,
        description: Union[str, None, NotGiven] = NOT_GIVEN,
        mfa_required: Union[bool, NotGiven] = NOT_GIVEN,
        extra_fields: Optional[Mapping[str, Any]] = None,
    ) -> Call[Group]:
        """Changes a group (``PATCH /api/v1/groups/{id}``). Only the arguments you pass are sent;
        ``description=None`` clears it. A name another group has is a :class:`ConflictError`."""
        body: Dict[str, Any] = {}
        if not isinstance(name, NotGiven):
            body["name"] = name
        if not isinstance(description, NotGiven):
            body["description"] = description
        if not isinstance(mfa_required, NotGiven):
            body["mfa_required"] = mfa_required
        body.update(extra_fields or {})
        return api_call("PATCH", f"/groups/{_path_id(id)}", Group.from_dict, json=body)

    @staticmethod
    def delete(id: str) -> Call[None]:
        """Deletes a group (``DELETE /api/v1/groups/{id}``) with its memberships (as a group and in other
        groups) and the ACL entries that name it. Retried after a connection error like every ``DELETE``: if
        the first attempt went through, the retry raises :class:`NotFoundError`."""
        return api_call("DELETE", f"/groups/{_path_id(id)}", _nothing)

    @staticmethod
    def members(id: str, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> Listing[GroupMember]:
        """Iterates over the group's direct members (not those of the groups in it), across all pages
        (``GET /api/v1/groups/{id}/members``); ``limit`` is the page size (1-100)."""
        path = f"/groups/{_path_id(id)}/members"
        params: Dict[str, Any] = {"limit": limit}

        return _listing(path, params, GroupMember.from_dict, cursor)

    @staticmethod
    def add_member(id: str, principal: PrincipalInput) -> Call[bool]:
        """Adds a user or a group to the group (``PUT /api/v1/groups/{id}/members/{principal}``).
        ``principal`` is ``user:<id>``, ``group:<id>``, or a :class:`User` or :class:`Group`.

        Returns ``True`` when it was added, ``False`` when it was a member already (nothing changes). A
        nesting that would make a cycle or a chain of more than 16 groups, an unknown user or group, or a
        key is a :class:`ValidationError` (field ``principal``); an unknown group ``id``
        :class:`NotFoundError`. Retried after a connection error (a ``PUT``; a replay answers ``False``).
        """
        path = f"/groups/{_path_id(id)}/members/{_principal_segment(principal)}"
        return Call("PUT", API_PREFIX + path, lambda reply: reply.status == 201)

    @staticmethod
    def remove_member(id: str, principal: PrincipalInput) -> Call[None]:
        """Removes a direct member from the group (``DELETE /api/v1/groups/{id}/members/{principal}``); one
        that is not a member is :class:`NotFoundError` (so is a retry, after a connection error, of a removal
        that went through)."""
        path = f"/groups/{_path_id(id)}/members/{_principal_segment(principal)}"
        return api_call("DELETE", path, _nothing)


class ACLEntriesCalls:
    """The requests of ``client.acl_entries`` (:class:`ACLEntries` and :class:`AsyncACLEntries`)."""


    @staticmethod
    def create(
        *,
        resource: str,
        principal: PrincipalInput,
        action: str,
        effect: str,
        kind: Optional[str] = None,
    ) -> Call[ACLEntry]:
        """Creates an entry (``POST /api/v1/acl-entries``): ``principal`` (``user:<id>``, ``group:<id>``,
        ``key:<id>``, or a :class:`User`, :class:`Group` or :class:`Key`) may (``effect="allow"``) or may not
        (``"deny"``) do ``action`` (a name such as ``read``, or ``*``) on ``resource``
        (``type:segment/segment/...``, e.g. ``project:acme/web``).

        ``kind`` is ``acl`` (the server's default: the resource itself) or ``dacl`` (a default for every
        descendant of the resource, not the resource itself). The same entry twice is a
        :class:`ConflictError`; a malformed field or a principal that does not exist a
        :class:`ValidationError`. Never retried after a connection error.
        """
        body: Dict[str, Any] = {
            "resource": resource,
            "principal": _principal(principal),
            "action": action,
            "effect": effect,
        }
        if kind is not None:
            body["kind"] = kind
        return api_call("POST", "/acl-entries", ACLEntry.from_dict, json=body)

    @staticmethod
    def list(
        *,
        resource: Optional[str] = None,
        include_ancestors: Optional[bool] = None,
        principal: Optional[PrincipalInput] = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> Listing[ACLEntry]:
        """Iterates over the entries that match, across all pages (``GET /api/v1/acl-entries``): those on
        ``resource`` (with ``include_ancestors=True``, also those on each of its ancestors, whose DACLs bear
        on it), those naming ``principal`` (itself only, not its groups), or both. ``include_ancestors``
        without ``resource`` is a :class:`ValidationError`. ``limit`` is the page size (1-100)."""
        params: Dict[str, Any] = {
            "resource": resource,
            "include_ancestors": _boolean_param(include_ancestors),
            "principal": None if principal is None else _principal(principal),
            "limit": limit,
        }

        return _listing("/acl-entries", params, ACLEntry.from_dict, cursor)

    @staticmethod
    def get(id: str) -> Call[ACLEntry]:
        """One entry (``GET /api/v1/acl-entries/{id}``); :class:`NotFoundError` if there is none."""
        return api_call("GET", f"/acl-entries/{_path_id(id)}", ACLEntry.from_dict)

    @staticmethod
    def delete(id: str) -> Call[None]:
        """Deletes an entry (``DELETE /api/v1/acl-entries/{id}``); the next check sees it gone. Retried
        after a connection error like every ``DELETE``: if the first attempt went through, the retry raises
        :class:`NotFoundError`."""
        return api_call("DELETE", f"/acl-entries/{_path_id(id)}", _nothing)


def _question(principal: PrincipalInput, action: str, resource: str) -> Dict[str, Any]:
    return {"principal": _principal(principal), "action": action, "resource": resource}


def _batch_question(index: int, check: CheckInput) -> Dict[str, Any]:
    if isinstance(check, Mapping):
        unknown = set(check) - {"principal", "action", "resource"}
        if unknown:
            raise TypeError(f"checks[{index}] has unknown fields: {', '.join(sorted(map(str, unknown)))}")
        missing = [k for k in ("principal", "action", "resource") if k not in check]
        if missing:
            raise TypeError(f"checks[{index}] lacks {', '.join(missing)}")
        return _question(check["principal"], check["action"], check["resource"])
    if isinstance(check, (str, bytes)) or not isinstance(check, Sequence) or len(check) != 3:
        raise TypeError(f"checks[{index}] must be a mapping or a (principal, action, resource) tuple")
    principal, action, resource = check
    return _question(principal, action, resource)


class AuthzCalls:
    """The requests of ``client.authz`` (:class:`Authz` and :class:`AsyncAuthz`)."""


    @staticmethod
    def check(principal: PrincipalInput, action: str, resource: str) -> Call[Decision]:
        """One question (``POST /api/v1/authz/check``): ``principal`` (``user:<id>``, ``group:<id>``,
        ``key:<id>``, or a :class:`User`, :class:`Group` or :class:`Key`) doing ``action`` (one name, not
        ``*``) on ``resource``. Returns a :class:`Decision` (``bool(decision)`` is ``allowed``) with the rule
        and entry that decided. A refusal is a decision, not an exception; exceptions mean the question was
        malformed (:class:`ValidationError`, also for an unknown group or key), the caller lacks
        ``authz:check`` (:class:`PermissionDeniedError`), or Tronch could not answer. A check changes
        nothing, so it is retried after a connection error.
        """
        body = _question(principal, action, resource)
        return api_call("POST", "/authz/check", Decision.from_dict, json=body, idempotent=True)

    @staticmethod
    def check_batch(checks: Sequence[CheckInput]) -> Call[List[Decision]]:
        """Up to 100 questions in one request (``POST /api/v1/authz/check-batch``); the decisions in the same
        order. Each check is a mapping ``{"principal", "action", "resource"}`` or a tuple
        ``(principal, action, resource)``; principals as in :meth:`check`. More than 100 raises
        :class:`ValueError` before anything is sent; an empty list returns ``[]`` without a request. One
        malformed check refuses the whole batch with a :class:`ValidationError` naming it
        (``checks[2].resource``). Retried after a connection error, like :meth:`check`.
        """
        if isinstance(checks, (str, bytes, Mapping)):
            raise TypeError("checks must be a list of checks")
        questions = [_batch_question(i, check) for i, check in enumerate(checks)]
        if len(questions) > MAX_BATCH_CHECKS:
            raise ValueError(f"check_batch takes at most {MAX_BATCH_CHECKS} checks, got {len(questions)}")
        if not questions:
            return Call(None, "", lambda reply: [])

        def decisions(answer: Any) -> List[Decision]:
            results = answer.get("results") if isinstance(answer, Mapping) else None
            found = [Decision.from_dict(r) for r in results or [] if isinstance(r, Mapping)]
            if len(found) != len(questions):
                raise TronchError(f"the server answered {len(found)} decisions for {len(questions)} checks")
            return found

        return api_call("POST", "/authz/check-batch", decisions, json={"checks": questions}, idempotent=True)
