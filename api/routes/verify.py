"""Anyone holding a certificate checks it by its verification code."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import SessionDep
from api.errors import not_found
from api.schemas.repair import Verification
from db.documents import certificate

router = APIRouter(prefix="/v1/verify", tags=["documents"])


@router.get("/{code}", response_model=Verification)
async def verify(code: str, session: SessionDep) -> Verification:
    """A code we issued answers what it certifies; any other is a 404 (nothing to leak)."""
    document = await certificate(session, code.strip().upper())
    if document is None:
        raise not_found("certificate")
    return Verification(
        valid=True,
        kind=document.kind,
        case_id=document.case_id,
        issued_at=document.created_at,
        sha256=document.sha256,
    )
