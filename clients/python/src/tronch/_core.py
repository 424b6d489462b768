"""What the synchronous and the asynchronous clients share, none of it doing I/O: request descriptions
(:class:`Call`, :class:`Listing`), the credential state and its refresh bookkeeping, the retry decisions, and
the mapping of problem answers to exceptions. ``Client`` and ``AsyncClient`` only send."""

from __future__ import annotations

import base64
import json as jsonlib
import logging
import os
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Dict, Generic, List, Mapping, Optional, Set, Tuple, TypeVar, Union
from urllib.parse import quote, urlencode

import httpx

from ._errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    FieldError,
    RateLimitError,
    ServiceUnavailableError,
    TronchError,
    error_class_for,
)
from ._models import Page, TokenPair
from ._version import __version__

__all__ = ["DEFAULT_BASE_URL", "API_PREFIX", "DEFAULT_REFRESH_MARGIN", "Call", "Listing", "Reply"]

T = TypeVar("T")

DEFAULT_BASE_URL = "http://127.0.0.1:8080"
API_PREFIX = "/api/v1"
# The early refresh: an access token is refreshed before a request when it expires within this many seconds,
# or within the last tenth of its lifetime when that is shorter (unless refresh_margin says otherwise).
DEFAULT_REFRESH_MARGIN = 30.0

logger = logging.getLogger("tronch")

# Methods that can be replayed after a connection error without changing the outcome. POST (create, rotate,
# verify) and PATCH are not replayed: the first attempt may have reached the server.
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_RETRYABLE_STATUSES = frozenset({429, 503})


def _parse_retry_after(value: Optional[str]) -> Optional[float]:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date. ``None`` when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def _query_string(params: Optional[Mapping[str, Any]]) -> str:
    """``?name=value&...`` for the parameters that are not ``None`` (``""`` when none is left).

    Spaces are sent as ``%20``, not ``+`` as ``httpx`` does: Tronch reads a ``+`` in a query as a plus sign,
    so ``q=acme+web`` would look for "acme+web". Booleans are sent as ``true`` and ``false``."""
    pairs: List[Tuple[str, str]] = []
    for name, value in (params or {}).items():
        if value is None:
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            text = ("true" if item else "false") if isinstance(item, bool) else str(item)
            pairs.append((str(name), text))
    return "?" + urlencode(pairs, quote_via=quote) if pairs else ""


def _is_problem(response: httpx.Response) -> bool:
    content_type = str(response.headers.get("content-type", ""))
    return content_type.split(";")[0].strip().lower() == "application/problem+json"


def _check_credential(value: str, name: str = "api_key") -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string")
    value = value.strip()
    if not value:
        raise ValueError(f"{name} must not be empty")
    # Checked here so that httpx never builds an error message around the value.
    if any(not (0x21 <= ord(c) <= 0x7E) for c in value):
        raise ValueError(f"{name} must contain only printable ASCII characters without spaces")
    return value


def _check_api_key(api_key: str) -> str:
    return _check_credential(api_key, "api_key")


def _jwt_times(token: str) -> Tuple[Optional[float], Optional[float]]:
    """The ``exp`` and ``iat`` claims of a JWT (seconds since the epoch), read without checking the signature
    (only to know when to refresh); ``(None, None)`` when the token is not a readable JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return None, None
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = jsonlib.loads(payload)
    except (ValueError, TypeError):
        return None, None
    if not isinstance(claims, dict):
        return None, None

    def number(name: str) -> Optional[float]:
        value = claims.get(name)
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    return number("exp"), number("iat")


def error_from_response(response: httpx.Response) -> TronchError:
    """The exception for an error answer: the class of its problem ``code`` or of its status."""
    status = response.status_code
    body: Optional[Dict[str, Any]] = None
    try:
        parsed = response.json()
        if isinstance(parsed, dict):
            body = parsed
    except ValueError:
        pass
    if body is not None:
        code = body.get("code") if isinstance(body.get("code"), str) else None
        detail = body.get("detail") if isinstance(body.get("detail"), str) else None
        request_id = body.get("request_id") if isinstance(body.get("request_id"), str) else None
        found = body.get("errors")
        raw_errors: List[Any] = found if isinstance(found, list) else []
    else:
        code = detail = request_id = None
        raw_errors = []
    if detail is None:
        text = response.text.strip()[:300] if body is None else ""
        detail = f"HTTP {status} {response.reason_phrase}".strip() + (f": {text}" if text else "")
    errors = [
        FieldError(field=str(e.get("field", "")), message=str(e.get("message", "")))
        for e in raw_errors
        if isinstance(e, dict)
    ]
    kwargs: Dict[str, Any] = dict(
        code=code,
        status=status,
        request_id=request_id or response.headers.get("x-request-id"),
        errors=errors,
        headers=response.headers,
        body=body,
    )
    cls = error_class_for(status, code)
    if cls in (RateLimitError, ServiceUnavailableError):
        kwargs["retry_after"] = _parse_retry_after(response.headers.get("retry-after"))
    return cls(detail, **kwargs)


# -- request descriptions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """A successful answer, as a :class:`Call` reads it: its status and its body (parsed on demand)."""

    status: int
    content: bytes = b""
    request_id: Optional[str] = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, response: httpx.Response) -> "Reply":
        return cls(response.status_code, response.content, response.headers.get("x-request-id"), response.headers)

    def json(self) -> Any:
        """The parsed JSON body (``None`` for an empty one, such as a 204's)."""
        if not self.content:
            return None
        try:
            return jsonlib.loads(self.content)
        except ValueError as exc:
            raise TronchError(
                f"the server answered {self.status} with a body that is not JSON",
                status=self.status,
                request_id=self.request_id,
                headers=self.headers,
            ) from exc


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request of the typed API, described without sending it: what to send, how to read the answer
    into the method's result, and what the answer changes in the client (``after``: forgetting tokens whose
    session ended). ``Client`` executes it and returns the result; ``AsyncClient`` does the same when awaited.

    ``method`` ``None`` is a call that needs no request (an empty batch): its result is ``parse`` of an
    empty reply."""

    method: Optional[str]
    url: str
    parse: Callable[[Reply], T]
    params: Optional[Mapping[str, Any]] = None
    json: Optional[Any] = None
    authenticate: bool = True
    idempotent: Optional[bool] = None
    after: Optional[Callable[["ClientState"], None]] = None


@dataclass(frozen=True)
class Listing(Generic[T]):
    """A list read page by page: ``page(cursor)`` describes the request for one page."""

    page: Callable[[Optional[str]], "Call[Page[T]]"]
    cursor: Optional[str] = None


def api_call(
    method: str,
    path: str,
    parse: Callable[[Any], T],
    *,
    params: Optional[Mapping[str, Any]] = None,
    json: Optional[Any] = None,
    authenticate: bool = True,
    idempotent: Optional[bool] = None,
    after: Optional[Callable[["ClientState"], None]] = None,
) -> Call[T]:
    """A :class:`Call` to ``/api/v1`` + ``path`` whose result is ``parse`` of the JSON answer."""

    def read(reply: Reply) -> T:
        return parse(reply.json())

    return Call(method, API_PREFIX + path, read, params, json, authenticate, idempotent, after)


def next_cursor(page: "Page[Any]", seen: Set[str]) -> Optional[str]:
    """The cursor of the page after ``page`` (``None`` after the last one); a cursor seen before raises
    instead of looping forever."""
    if not page.next_cursor:
        return None
    if page.next_cursor in seen:
        raise TronchError(f"the server returned the cursor {page.next_cursor!r} twice; stopping")
    seen.add(page.next_cursor)
    return page.next_cursor


# -- the client's state ---------------------------------------------------------------------------------


class ClientState:
    """Configuration, credential and retry decisions of a client, whatever does the sending.

    One credential at a time: a key, or a person's tokens. ``_state_lock`` makes each change of the
    credential atomic between threads (the synchronous client also holds it across a refresh, so that one
    refresh serves every thread; the asynchronous one serialises refreshes with an ``asyncio.Lock``)."""

    def __init__(
        self,
        base_url: Optional[str],
        api_key: Optional[str],
        *,
        max_retries: int,
        max_retry_wait: float,
        backoff_base: float,
        backoff_max: float,
        auto_refresh: bool,
        on_refresh: Optional[Callable[[TokenPair], None]],
        refresh_margin: Optional[float],
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if max_retry_wait < 0:
            raise ValueError("max_retry_wait must be >= 0")
        if refresh_margin is not None and refresh_margin < 0:
            raise ValueError("refresh_margin must be >= 0")
        url = (base_url or os.environ.get("TRONCH_URL") or DEFAULT_BASE_URL).strip().rstrip("/")
        if url.endswith(API_PREFIX):
            url = url[: -len(API_PREFIX)]
        self.base_url = url
        self.max_retries = max_retries
        self.max_retry_wait = float(max_retry_wait)
        self.backoff_base = float(backoff_base)
        self.backoff_max = float(backoff_max)
        self.auto_refresh = auto_refresh
        self.on_refresh = on_refresh
        self.refresh_margin = None if refresh_margin is None else float(refresh_margin)
        self._state_lock = threading.RLock()
        self._api_key: Optional[str] = None
        self._access_token: Optional[str] = None
        self._refresh_token: Optional[str] = None
        self._token_pair: Optional[TokenPair] = None
        # When the access token expires (seconds since the epoch) and how long it lived, when known.
        self._expires_at: Optional[float] = None
        self._lifetime: Optional[float] = None
        if api_key is None:
            api_key = os.environ.get("TRONCH_API_KEY") or None
        if api_key is not None:
            self.set_api_key(api_key)

    @staticmethod
    def _default_headers(headers: Optional[Mapping[str, str]]) -> Dict[str, str]:
        default_headers = {
            "Accept": "application/json",
            "User-Agent": f"tronch-python/{__version__} httpx/{httpx.__version__}",
        }
        default_headers.update(headers or {})
        return default_headers

    # -- credentials --------------------------------------------------------------------------------------

    def _clear_tokens(self) -> None:
        self._access_token = self._refresh_token = None
        self._token_pair = None
        self._expires_at = self._lifetime = None

    def set_api_key(self, api_key: Optional[str]) -> None:
        """Uses this key for the following requests (``None``: send no credential). Tokens the client held
        are forgotten (their session stays live: call ``logout()`` first to end it)."""
        checked = None if api_key is None else _check_api_key(api_key)
        with self._state_lock:
            self._api_key = checked
            self._clear_tokens()

    def set_access_token(
        self, access_token: Union[TokenPair, str, None], refresh_token: Optional[str] = None
    ) -> None:
        """Sends a person's access token (``Authorization: Bearer``) from now on instead of a key.

        ``access_token`` is an access token (a string), with the ``refresh_token`` that goes with it if you
        have one, or a :class:`TokenPair` (from ``client.auth.login()`` or ``refresh()``), whose refresh token
        the client keeps. With a refresh token the client refreshes by itself: shortly before the access
        token expires, and when it is refused. ``None`` forgets the tokens and sends no credential. A key set
        before is forgotten; :meth:`set_api_key` switches back.
        """
        with self._state_lock:
            if access_token is None:
                self._clear_tokens()
                return
            expires_at: Optional[float]
            lifetime: Optional[float]
            if isinstance(access_token, TokenPair):
                if refresh_token is not None:
                    raise TypeError("pass a TokenPair, or an access token with refresh_token, not both")
                token = access_token
                access = _check_credential(token.access_token, "access_token")
                refresh = _check_credential(token.refresh_token, "refresh_token") if token.refresh_token else None
                pair: Optional[TokenPair] = token
                expires_at = token.expires_at.timestamp() if token.expires_at is not None else None
                lifetime = float(token.expires_in) if token.expires_in > 0 else None
            else:
                access = _check_credential(access_token, "access_token")
                refresh = None if refresh_token is None else _check_credential(refresh_token, "refresh_token")
                pair = None
                expires_at, issued_at = _jwt_times(access)
                lifetime = expires_at - issued_at if expires_at is not None and issued_at is not None else None
            self._api_key = None
            self._access_token, self._refresh_token, self._token_pair = access, refresh, pair
            self._expires_at = expires_at
            self._lifetime = lifetime if lifetime is None or lifetime > 0 else None

    def use_token(self, token: Union[TokenPair, str, None], refresh_token: Optional[str] = None) -> None:
        """The same as :meth:`set_access_token` (its earlier name)."""
        self.set_access_token(token, refresh_token)

    @property
    def has_api_key(self) -> bool:
        return self._api_key is not None

    @property
    def has_access_token(self) -> bool:
        return self._access_token is not None

    @property
    def token_pair(self) -> Optional[TokenPair]:
        """The tokens the client uses now (the latest after a refresh), or ``None``: with a key, no
        credential, or an access token given as a string."""
        return self._token_pair

    @property
    def session_id(self) -> Optional[str]:
        """The session of the tokens the client uses, when it got them as a :class:`TokenPair`."""
        pair = self._token_pair
        return pair.session_id if pair is not None and pair.session_id else None

    @property
    def access_token_expires_at(self) -> Optional[datetime]:
        """When the access token the client sends expires (from the ``TokenPair``'s ``expires_in``, or the
        ``exp`` claim of an access token given as a string), or ``None`` when unknown or with a key."""
        expires_at = self._expires_at
        return None if expires_at is None else datetime.fromtimestamp(expires_at, timezone.utc)

    def _credential_headers(self) -> Tuple[Dict[str, str], Optional[str]]:
        """The credential header for a request, and the access token sent (``None`` for a key or nothing)."""
        with self._state_lock:
            if self._access_token is not None:
                return {"Authorization": f"Bearer {self._access_token}"}, self._access_token
            if self._api_key is not None:
                return {"X-API-Key": self._api_key}, None
            return {}, None

    def _forget_tokens(self, *, session_id: Optional[str] = None, refresh_token: Optional[str] = None) -> None:
        """Drops the client's tokens when their session has ended (logout, revoked session or refresh token)."""
        with self._state_lock:
            if self._access_token is None:
                return
            if session_id is not None and session_id.lower() != (self.session_id or "").lower():
                return
            if refresh_token is not None and refresh_token != self._refresh_token:
                return
            self._clear_tokens()

    # -- refresh bookkeeping --------------------------------------------------------------------------------

    def _margin(self) -> float:
        """How long before its expiry the access token is refreshed early."""
        if self.refresh_margin is not None:
            return self.refresh_margin
        lifetime = self._lifetime
        return DEFAULT_REFRESH_MARGIN if lifetime is None else min(DEFAULT_REFRESH_MARGIN, lifetime / 10)

    def _expiring_token(self) -> Optional[str]:
        """The access token to refresh before the next request (it expires within the margin, and the client
        holds a refresh token and refreshes by itself), or ``None``."""
        if not self.auto_refresh:
            return None
        with self._state_lock:
            if self._access_token is None or self._refresh_token is None or self._expires_at is None:
                return None
            margin = self._margin()
            if margin <= 0 or self._expires_at - time.time() > margin:
                return None
            return self._access_token

    def _still_expiring(self, token: str) -> bool:
        """After waiting for the refresh lock: whether ``token`` is still the one to refresh (no other thread or
        task refreshed or replaced it meanwhile)."""
        with self._state_lock:
            if self._access_token != token or self._refresh_token is None or self._expires_at is None:
                return False
            logger.info(
                "access token expires in %.1f s; refreshing session %s before the request",
                self._expires_at - time.time(), self.session_id,
            )
            return True

    def _renewal(self, token_sent: str) -> Optional[bool]:
        """After ``TOKEN_INVALID`` for ``token_sent``: ``False`` if the request cannot go again, ``True`` if it
        can with the access token held now (another thread or task refreshed it meanwhile), ``None`` if a
        refresh is needed first."""
        with self._state_lock:
            if self._access_token is None:
                return False  # switched to a key or to nothing meanwhile
            if self._access_token != token_sent:
                return True  # refreshed (or replaced) meanwhile
            if self._refresh_token is None:
                return False
            logger.info("access token refused (TOKEN_INVALID); refreshing session %s", self.session_id)
            return None

    def _refresh_start(self, refresh_token: Optional[str]) -> Tuple[Call[Any], str, bool]:
        """The refresh request for ``refresh_token`` (or the client's own), the token, and whether it is the
        client's own. A POST: never replayed after a connection error (the first attempt may have used the
        token up, and presenting it again would end the session as if it had been stolen)."""
        with self._state_lock:
            held = self._refresh_token
            token = held if refresh_token is None else refresh_token
            if token is None:
                raise ValueError("no refresh token: pass one, or log in with client.login() first")
            own = held is not None and token == held
        call = api_call("POST", "/auth/refresh", lambda answer: answer, json={"refresh_token": token},
                        authenticate=False)
        return call, token, own

    def _refresh_refused(self, token: str, own: bool) -> None:
        """The refresh of ``token`` was refused for good: never present it again. The access token stays until
        it is refused."""
        with self._state_lock:
            if own and self._refresh_token == token:
                self._refresh_token = None
                self._token_pair = None

    def _refresh_done(self, token: str, own: bool, answer: Any) -> TokenPair:
        """The new pair; from the client's own refresh token (still held), it replaces the client's tokens."""
        pair = TokenPair.from_dict(answer or {})
        with self._state_lock:
            replace = own and self._refresh_token == token
            if replace:
                self.set_access_token(pair)
        if replace and self.on_refresh is not None:
            self.on_refresh(pair)
        return pair

    # -- retries -----------------------------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.backoff_max, self.backoff_base * (2.0**attempt))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    @staticmethod
    def _prepare(
        method: str, url: str, params: Optional[Mapping[str, Any]], idempotent: Optional[bool]
    ) -> Tuple[str, str, bool]:
        """The method in capitals, the URL with its query string, and whether a connection error may be
        retried (by the method unless ``idempotent`` says)."""
        method = method.upper()
        if idempotent is None:
            idempotent = method in _IDEMPOTENT_METHODS
        return method, url + _query_string(params), idempotent

    def _retry_after_failure(
        self, method: str, url: str, exc: httpx.TransportError, idempotent: bool, attempt: int
    ) -> float:
        """After a request that got no answer: the wait before the next attempt, or raises."""
        failure: APIConnectionError
        if isinstance(exc, httpx.TimeoutException):
            failure = APITimeoutError(f"{method} {self.base_url}{url} timed out: {type(exc).__name__}")
        elif isinstance(exc, (httpx.NetworkError, httpx.RemoteProtocolError)):
            failure = APIConnectionError(f"{method} {self.base_url}{url} failed: {exc or type(exc).__name__}")
        else:  # unsupported protocol, proxy errors: not transient
            raise APIConnectionError(f"{method} {self.base_url}{url} failed: {exc or type(exc).__name__}") from exc
        if idempotent and attempt < self.max_retries:
            delay = self._backoff(attempt)
            logger.warning(
                "%s %s: %s; retrying in %.2f s (retry %d of %d)",
                method, url, failure.detail, delay, attempt + 1, self.max_retries,
            )
            return delay
        raise failure from exc

    def _retry_after_answer(
        self, method: str, url: str, response: httpx.Response, idempotent: bool, attempt: int, started: float
    ) -> Optional[float]:
        """After an answer: ``None`` when it is the result, the wait before the next attempt, or raises."""
        status = response.status_code
        request_id = response.headers.get("x-request-id")
        logger.debug(
            "%s %s -> %d in %.1f ms (request_id=%s, attempt %d)",
            method, url, status, (time.monotonic() - started) * 1000, request_id, attempt + 1,
        )
        if status < 400:
            return None
        # 429 and 503 problem answers from Tronch mean that nothing was changed, so even a POST may be
        # replayed; a 503 without a problem body (from a proxy, say) is replayed only when idempotent.
        if status in _RETRYABLE_STATUSES and attempt < self.max_retries and (idempotent or _is_problem(response)):
            retry_after = _parse_retry_after(response.headers.get("retry-after"))
            if retry_after is not None and retry_after > self.max_retry_wait:
                logger.warning(
                    "%s %s -> %d; Retry-After %.0f s exceeds max_retry_wait %.0f s; not retrying",
                    method, url, status, retry_after, self.max_retry_wait,
                )
                raise error_from_response(response)
            delay = self._backoff(attempt)
            if retry_after is not None:
                delay = max(delay, retry_after)
            logger.warning(
                "%s %s -> %d (request_id=%s); retrying in %.2f s (retry %d of %d)",
                method, url, status, request_id, delay, attempt + 1, self.max_retries,
            )
            return delay
        raise error_from_response(response)

    def __repr__(self) -> str:
        if self._access_token is not None:
            refresh = "<redacted>" if self._refresh_token is not None else "None"
            credential = f"access_token=<redacted> refresh_token={refresh} session_id={self.session_id!r}"
        else:
            credential = "api_key=" + ("<redacted>" if self._api_key is not None else "None")
        return f"<tronch.{type(self).__name__} base_url={self.base_url!r} {credential} max_retries={self.max_retries}>"

    __str__ = __repr__
