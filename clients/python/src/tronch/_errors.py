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
    (``MALFORMED_JSON``). ``errors`` lists the invalid fields."""


class AuthenticationError(TronchError):
    """401 ``UNAUTHENTICATED``: no key, or the key was refused (unknown, revoked, disabled, expired, or not
    allowed from this address)."""


class PermissionDeniedError(TronchError):
    """403 ``FORBIDDEN``: the key lacks the route's scope, or a delegation rule forbids the change."""


class NotFoundError(TronchError):
    """404 ``NOT_FOUND``: no key with this id (or an unknown route)."""


class ConflictError(TronchError):
    """409 ``CONFLICT``: the key is revoked (update, rotate), already rotated, or expired (rotate)."""


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


def error_class_for_status(status: int) -> Type[TronchError]:
    return _BY_STATUS.get(status, TronchError)
