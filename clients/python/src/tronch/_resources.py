"""The typed API: ``client.keys`` and ``client.audit_logs``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Generic,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    TypeVar,
    Union,
)
from urllib.parse import quote

from ._errors import TronchError
from ._models import (
    AuditEntry,
    CreatedKey,
    Key,
    KeyUsage,
    Page,
    RateLimitPolicy,
    Refill,
    Verification,
    format_datetime,
)

if TYPE_CHECKING:
    from ._client import Client

__all__ = ["Keys", "AuditLogs", "Paginator", "NOT_GIVEN", "NotGiven"]

T = TypeVar("T")

Timestamp = Union[datetime, str]
PolicyInput = Union[RateLimitPolicy, Mapping[str, Any]]
RefillInput = Union[Refill, Mapping[str, Any]]


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


class Paginator(Generic[T], Iterator[T]):
    """An iterator over every item of a list, across all pages: it asks for the next page (``cursor`` =
    the previous page's ``next_cursor``) when the current one is used up, and stops after the page whose
    ``next_cursor`` is null. Nothing is requested before the first item is asked for.

    ``pages()`` yields the pages themselves (:class:`Page`, with ``data`` and ``next_cursor``).
    """

    def __init__(self, fetch: Callable[[Optional[str]], Page[T]], cursor: Optional[str] = None) -> None:
        self._fetch = fetch
        self._cursor = cursor
        self._items: Optional[Iterator[T]] = None

    def pages(self) -> Iterator[Page[T]]:
        cursor = self._cursor
        seen = set()
        while True:
            page = self._fetch(cursor)
            yield page
            if not page.next_cursor:
                return
            if page.next_cursor in seen:
                raise TronchError(f"the server returned the cursor {page.next_cursor!r} twice; stopping")
            seen.add(page.next_cursor)
            cursor = page.next_cursor

    def _iterate(self) -> Iterator[T]:
        for page in self.pages():
            yield from page.data

    def __iter__(self) -> "Paginator[T]":
        return self

    def __next__(self) -> T:
        if self._items is None:
            self._items = self._iterate()
        return next(self._items)


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


class Keys:
    """``client.keys``: create, list, read, update, revoke, rotate and verify keys, and read their usage."""

    def __init__(self, client: "Client") -> None:
        self._client = client

    def create(
        self,
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
        extra_fields: Optional[Mapping[str, Any]] = None,
    ) -> CreatedKey:
        """Creates a key (``POST /api/v1/keys``, scope ``keys:write``). Arguments left as ``None`` are not
        sent and take the server's default. The secret is in the answer's ``.key`` and nowhere else, ever.

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
        body.update(extra_fields or {})
        return CreatedKey.from_dict(self._client.request("POST", "/keys", json=body))

    def list(
        self,
        *,
        owner_id: Optional[str] = None,
        environment: Optional[str] = None,
        status: Optional[str] = None,
        name_prefix: Optional[str] = None,
        expiring_within: Optional[Union[int, str, timedelta]] = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> Paginator[Key]:
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

        def fetch(page_cursor: Optional[str]) -> Page[Key]:
            answer = self._client.request("GET", "/keys", params={**params, "cursor": page_cursor})
            return Page(
                data=[Key.from_dict(k) for k in answer.get("data") or [] if isinstance(k, Mapping)],
                next_cursor=answer.get("next_cursor") or None,
                raw=answer,
            )

        return Paginator(fetch, cursor)

    def get(self, id: str) -> Key:
        """Returns one key (``GET /api/v1/keys/{id}``, scope ``keys:read``); :class:`NotFoundError` if unknown."""
        return Key.from_dict(self._client.request("GET", f"/keys/{_path_id(id)}"))

    def update(
        self,
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
    ) -> Key:
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
        return Key.from_dict(self._client.request("PATCH", f"/keys/{_path_id(id)}", json=body))

    def revoke(self, id: str) -> Key:
        """Revokes a key for good (``DELETE /api/v1/keys/{id}``, scope ``keys:write``) and returns it.
        Revoking a revoked key changes nothing and succeeds."""
        return Key.from_dict(self._client.request("DELETE", f"/keys/{_path_id(id)}"))

    def rotate(
        self,
        id: str,
        *,
        grace_period_seconds: Optional[Union[int, timedelta]] = None,
        expires_at: Union[Timestamp, None, NotGiven] = NOT_GIVEN,
    ) -> CreatedKey:
        """Replaces a key by a new one with the same settings and a new secret
        (``POST /api/v1/keys/{id}/rotate``, scope ``keys:write``). The old key keeps working for
        ``grace_period_seconds`` (server default 0: revoked at once; at most 30 days). ``expires_at`` sets
        the new key's expiry (``None``: never); left out, it keeps the old key's.
        """
        body: Dict[str, Any] = {}
        if grace_period_seconds is not None:
            if isinstance(grace_period_seconds, timedelta):
                grace_period_seconds = int(grace_period_seconds.total_seconds())
            body["grace_period_seconds"] = grace_period_seconds
        if not isinstance(expires_at, NotGiven):
            body["expires_at"] = None if expires_at is None else format_datetime(expires_at)
        return CreatedKey.from_dict(self._client.request("POST", f"/keys/{_path_id(id)}/rotate", json=body))

    def verify(
        self,
        key: str,
        scopes: Optional[Sequence[str]] = None,
        ip: Optional[str] = None,
        cost: Optional[int] = None,
    ) -> Verification:
        """Checks a key for one request of your API (``POST /api/v1/keys/verify``, scope ``keys:verify``).

        Returns a :class:`Verification` for every outcome: an unknown, revoked or expired key is
        ``valid=False`` with a ``code``, not an exception. Exceptions mean that the verification itself
        failed (the calling key lacks ``keys:verify``, an invalid scope or address, Tronch unreachable).
        ``cost`` (default 1 on the server) is what the request spends in rate limits and credits; 0 spends
        nothing.
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
        return Verification.from_dict(self._client.request("POST", "/keys/verify", json=body))

    def import_keys(self, keys: Sequence[Mapping[str, Any]]) -> List[Key]:
        """Imports existing keys (``POST /api/v1/keys/import``, scope ``keys:write``): 1 to 1000 entries,
        each a create request plus its secret, ``"key"`` (plain text, hashed on arrival) or ``"hash"``
        (``{"algorithm": "sha256", "value": "<64 hex>"}``, upgraded on first successful verification).
        All or nothing: a :class:`ValidationError` names every bad entry (``keys[3].scopes[0]``), a
        :class:`ConflictError` the first key already stored. Returns the stored keys in order, never a
        secret. See docs/migrating.md.
        """
        entries = [dict(entry) for entry in keys]
        answer = self._client.request("POST", "/keys/import", json={"keys": entries})
        return [Key.from_dict(item) for item in answer.get("data", [])]

    def usage(
        self,
        id: str,
        *,
        granularity: Optional[str] = None,
        from_: Optional[Timestamp] = None,
        to: Optional[Timestamp] = None,
    ) -> KeyUsage:
        """A key's usage over time (``GET /api/v1/keys/{id}/usage``, scope ``keys:read``). ``granularity``
        is ``minute``, ``hour`` (server default) or ``day``; ``from_`` defaults to 24 hours before ``to``,
        ``to`` to now."""
        params = {
            "granularity": granularity,
            "from": _timestamp_param(from_),
            "to": _timestamp_param(to),
        }
        return KeyUsage.from_dict(self._client.request("GET", f"/keys/{_path_id(id)}/usage", params=params))


class AuditLogs:
    """``client.audit_logs``: read the audit log."""

    def __init__(self, client: "Client") -> None:
        self._client = client

    def list(
        self,
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
    ) -> Paginator[AuditEntry]:
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

        def fetch(page_cursor: Optional[str]) -> Page[AuditEntry]:
            answer = self._client.request("GET", "/audit-logs", params={**params, "cursor": page_cursor})
            return Page(
                data=[AuditEntry.from_dict(e) for e in answer.get("data") or [] if isinstance(e, Mapping)],
                next_cursor=answer.get("next_cursor") or None,
                raw=answer,
            )

        return Paginator(fetch, cursor)
