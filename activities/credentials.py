"""What an adapter factory is given to build an organisation's carrier or gateway."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ProviderCredentials:
    """An organisation's account with a provider, decrypted. `repr` hides the secrets, so an
    adapter or a log line that prints it leaks nothing."""

    provider: str
    api_key: str = field(default="", repr=False)
    webhook_secret: str = field(default="", repr=False)
    # The carrier services the retailer allows; empty: the provider's own choice.
    services: tuple[str, ...] = ()
    # Where the provider's API is (AFTERSALES_<PROVIDER>_API_BASE); None: its real endpoint.
    api_base: str | None = None
