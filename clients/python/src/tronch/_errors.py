"""Exceptions raised by the client.

Every error answer of Tronch is an RFC 9457 problem (``application/problem+json``) with a stable ``code``.
:class:`TronchError` carries its fields; the subclasses let you catch one kind of failure by HTTP status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Type

__all__ = [
    "FieldError",
    "TronchError",
    "APIConnectionError",
    "APITimeoutError",
    "ValidationError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "ConflictError",
    "RateLimitError",
    "ServiceUnavailableError",
    "InvalidCredentialsError",
    "TokenInvalidError",
    "SessionRevokedError",
    "RefreshTokenReusedError",
    "MFARequiredError",
    "MFAInvalidError",
    "MFAEnrollmentRequiredError",
]


@dataclass(frozen=True)
class FieldError:
    """One invalid field of a ``VALIDATION_FAILED`` answer, named as sent (``scopes[1]``, ``limit``, ``id``)."""

    field: str
    message: str


class TronchError(Exception):
    """Base class of every error of this package.

    Attributes:
        code: the problem's stable machine code (``NOT_FOUND``, ``VALIDATION_FAILED``, ...); match on this.
            ``None`` for transport failures and answers without a problem body.
        status: the HTTP status, or ``None`` when no answer was received.
        detail: a message for people (its wording may change).
        request_id: the request id (``X-Request-Id``), to find the request in Tronch's logs.
        errors: for ``VALIDATION_FAILED``, every invalid field; otherwise empty.
        headers: the answer's headers (empty when there was no answer).
        body: the parsed problem body (or ``None``).
    """

    def __init__(
        self,
        detail: str,
        *,
        code: Optional[str] = None,
        status: Optional[int] = None,
        request_id: Optional[str] = None,
        errors: Optional[List[FieldError]] = None,
        headers: Optional[Mapping[str, str]] = None,
        body: Optional[Dict[str, Any]] = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code
        self.status = status
        self.request_id = request_id
        self.errors: List[FieldError] = list(errors or [])
        self.headers: Dict[str, str] = dict(headers or {})
        self.body = body

    def __str__(self) -> str:
        parts = []
        if self.status is not None:
            parts.append(str(self.status))
        if self.code:
            parts.append(self.code)
        prefix = " ".join(parts)
        text = f"{prefix}: {self.detail}" if prefix else self.detail
        if self.errors:
            text += " (" + "; ".join(f"{e.field}: {e.message}" for e in self.errors) + ")"
        if self.request_id:
            text += f" [request_id={self.request_id}]"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, detail={self.detail!r}, "
            f"request_id={self.request_id!r})"
        )


class APIConnectionError(TronchError):
    """No answer was received: the connection failed, was reset, or timed out."""


class APITimeoutError(APIConnectionError):
    """The request timed out (connect, read, write or pool timeout)."""


class ValidationError(TronchError):
    """400: a field, query parameter or id is invalid (``VALIDATION_FAILED``), or the body is not JSON
    (``MALFORMED_JSON``). ``errors`` lists the invalid fields. Also a group nesting that would make a cycle
    or a chain of more than 16 groups, and a principal that does not exist in an ACL entry, a membership or a
    check (field ``principal``)."""


class AuthenticationError(TronchError):
    """401: no credential, or the credential was refused. ``UNAUTHENTICATED`` for keys (unknown, revoked,
    disabled, expired, or not allowed from this address); the subclasses below for logins and tokens."""


class InvalidCredentialsError(AuthenticationError):
    """401 ``INVALID_CREDENTIALS``: a login was refused. Tronch gives one answer for an unknown user, a wrong
    password, a disabled account and a locked one, so that nobody can tell which."""


class TokenInvalidError(AuthenticationError):
    """401 ``TOKEN_INVALID``: the access token is malformed, expired or revoked (its session ended), or a
    refresh token is unknown or expired. With a refresh token held, the client refreshes once by itself."""


class SessionRevokedError(AuthenticationError):
    """401 ``SESSION_REVOKED``: the refresh token's session has ended (logout, revocation, a password
    change or reset, the user disabled or deleted, the anomaly rule). Log in again."""


class RefreshTokenReusedError(SessionRevokedError):
    """401 ``REFRESH_TOKEN_REUSED``: this refresh token had already been exchanged, so it may have been
    stolen; Tronch ended its session (every token of it). Log in again."""


class MFARequiredError(AuthenticationError):
    """401 ``MFA_REQUIRED``: a second factor is needed.

    Raised by a login whose password was right for an account with a second factor, and by a request that
    needs a second factor the caller's session lacks (step-up: making an administrator, a key with the scope
    ``admin``, resetting another person's second factor, when the access token's ``amr`` names no second
    factor). Finish with ``client.complete_mfa(error.mfa_token, code=...)`` (or ``recovery_code=...``): the
    client then holds the new tokens; after a step-up, repeat the request.

    ``mfa_token`` (single use, 5 minutes, dead after 5 wrong codes; kept out of ``repr`` and ``str``) and
    ``methods`` (``["totp", "recovery_code"]``) come from the answer.
    """

    def __init__(self, detail: str, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        body = self.body or {}
        token = body.get("mfa_token")
        methods = body.get("methods")
        self.mfa_token: Optional[str] = token if isinstance(token, str) else None
        self.methods: List[str] = [m for m in methods if isinstance(m, str)] if isinstance(methods, list) else []


class MFAInvalidError(AuthenticationError):
    """401 ``MFA_INVALID``: a second-factor code was refused (wrong, expired, already used; a recovery code
    not in the current set), or the ``mfa_token`` is not a live challenge (unknown, older than 5 minutes,
    used, dead after 5 wrong codes, or its account was disabled or locked meanwhile). Also for a refused
    ``confirm_totp``, ``regenerate_recovery_codes`` or ``disable_totp``. A wrong code at login counts toward
    the account's lock like a wrong password."""


class PermissionDeniedError(TronchError):
    """403 ``FORBIDDEN``: the key or token lacks the route's scope or role (a member managing users, say; a
    key without ``authz:check`` asking ``authz.check``), or a delegation rule forbids the change."""


class MFAEnrollmentRequiredError(PermissionDeniedError):
    """403 ``MFA_ENROLLMENT_REQUIRED``: the person must enrol a second factor first
    (``client.users.enrol_totp()``, then ``confirm_totp(code)``): their role is in
    ``TRONCH_MFA_REQUIRED_ROLES`` (every route but enrolment answers this until they do), or they asked for
    an action that needs a second factor (step-up) and have none."""


class NotFoundError(TronchError):
    """404 ``NOT_FOUND``: no key, user, session, group or ACL entry with this id that the caller may see
    (or an unknown route; or removing a group member that is not one). Another person's key or account is
    "not found" for anyone but an administrator."""


class ConflictError(TronchError):
    """409 ``CONFLICT``: the key is revoked (update, rotate), already rotated, or expired (rotate); the
    username, e-mail address or group name is taken; or the same ACL entry exists already."""


class RateLimitError(TronchError):
    """429 ``RATE_LIMITED``: too many failed authentications from this address, or too many keys created by
    this key. Nothing was changed. ``retry_after`` is the server's ``Retry-After`` in seconds (or ``None``)."""

    def __init__(self, detail: str, *, retry_after: Optional[float] = None, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.retry_after = retry_after


class ServiceUnavailableError(TronchError):
    """503 ``SERVICE_UNAVAILABLE``: the database (or the rate limiter) could not answer. Nothing was changed.
    ``retry_after`` is the server's ``Retry-After`` in seconds (or ``None``)."""

    def __init__(self, detail: str, *, retry_after: Optional[float] = None, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.retry_after = retry_after


_BY_STATUS: Dict[int, Type[TronchError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitError,
    503: ServiceUnavailableError,
}


# Codes with a class of their own; each is a subclass of its status's class, so ``except AuthenticationError``
# still catches every 401.
_BY_CODE: Dict[str, Type[TronchError]] = {
    "INVALID_CREDENTIALS": InvalidCredentialsError,
    "TOKEN_INVALID": TokenInvalidError,
    "SESSION_REVOKED": SessionRevokedError,
    "REFRESH_TOKEN_REUSED": RefreshTokenReusedError,
    "MFA_REQUIRED": MFARequiredError,
    "MFA_INVALID": MFAInvalidError,
    "MFA_ENROLLMENT_REQUIRED": MFAEnrollmentRequiredError,
}


def error_class_for_status(status: int) -> Type[TronchError]:
    return _BY_STATUS.get(status, TronchError)


def error_class_for(status: int, code: Optional[str]) -> Type[TronchError]:
    """The class for an answer: the code's own class when it has one and it fits the status, else the
    status's class."""
    by_status = error_class_for_status(status)
    by_code = _BY_CODE.get(code) if code else None
    if by_code is not None and issubclass(by_code, by_status) and by_status is not TronchError:
        return by_code
    return by_status
