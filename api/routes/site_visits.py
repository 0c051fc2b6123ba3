"""What the routes of the lifecycles with a technician on site (relocations, installations)
share: the provider an order names."""

from __future__ import annotations

from api.auth import OrgKind
from api.deps import SessionDep
from api.errors import Problem
from db.organisations import organisation


async def provider_name(session: SessionDep, provider_org_id: str) -> str:
    """The name of the provider an order names; a 422 unless it is a repair center."""
    provider = await organisation(session, provider_org_id)
    if provider is None or provider.kind != OrgKind.REPAIR_CENTER.value:
        raise Problem(
            422,
            "unknown_provider",
            "provider_org_id must name a repair center organisation",
        )
    return provider.name
