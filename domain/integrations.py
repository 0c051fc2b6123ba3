"""The outside providers an organisation may use for each kind of integration (api.md,
"Integrations"). `builtin` needs no account and is every organisation's default."""

from __future__ import annotations

from enum import StrEnum

BUILTIN = "builtin"


class IntegrationKind(StrEnum):
    CARRIER = "carrier"
    PAYMENTS = "payments"


# The names the API accepts; activities.providers holds an adapter factory for each (its
# test checks that the two agree).
PROVIDERS: dict[IntegrationKind, tuple[str, ...]] = {
    IntegrationKind.CARRIER: (BUILTIN, "easypost"),
    IntegrationKind.PAYMENTS: (BUILTIN, "stripe"),
}
