"""Python client for Tronch, the self-hostable API key service.

    from tronch import Client

    with Client("http://127.0.0.1:8080", api_key=os.environ["TRONCH_API_KEY"]) as tronch:
        created = tronch.keys.create(name="Acme production", owner_id="cus_123", scopes=["orders:read"])
        verdict = tronch.keys.verify(created.key, scopes=["orders:read"])
        assert verdict.valid
"""

from ._client import DEFAULT_BASE_URL, Client
from ._errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ConflictError,
    FieldError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
    TronchError,
    ValidationError,
)
from ._models import (
    AuditActor,
    AuditEntry,
    AuditTarget,
    CreatedKey,
    Key,
    KeyUsage,
    LatencyPercentiles,
    Page,
    RateLimitPolicy,
    RateLimitState,
    Refill,
    UsageBucket,
    UsageTotals,
    Verification,
    VerificationCode,
)
from ._resources import NOT_GIVEN, AuditLogs, Keys, NotGiven, Paginator
from ._version import __version__

__all__ = [
    "__version__",
    "Client",
    "DEFAULT_BASE_URL",
    "Keys",
    "AuditLogs",
    "Paginator",
    "Page",
    "NOT_GIVEN",
    "NotGiven",
    # models
    "Key",
    "CreatedKey",
    "Verification",
    "VerificationCode",
    "RateLimitPolicy",
    "RateLimitState",
    "Refill",
    "KeyUsage",
    "UsageBucket",
    "UsageTotals",
    "LatencyPercentiles",
    "AuditEntry",
    "AuditActor",
    "AuditTarget",
    # errors
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
    "FieldError",
]
