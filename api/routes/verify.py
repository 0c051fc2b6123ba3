"""Anyone holding a certificate checks it by its verification code."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import SessionDep
from api.errors import not_found
from api.schemas.installation import CertificateVerification, TrainingOut
from db.cases import case_by_id
from db.documents import certificate
from domain.contracts.facts import InstallationFacts

router = APIRouter(prefix="/v1/verify", tags=["documents"])


@router.get("/{code}", response_model=CertificateVerification)
async def verify(code: str, session: SessionDep) -> CertificateVerification:
    """A code we issued answers what it certifies; any other is a 404 (nothing to leak).
    An Installation Certificate also says whether the training asked for was given."""
    document = await certificate(session, code.strip().upper())
    if document is None:
        raise not_found("certificate")
    training = None
    if document.kind == "installation_certificate":
        case = await case_by_id(session, document.case_id)
        facts = InstallationFacts.from_data(case.data if case is not None else {})
        if facts.training:
            training = TrainingOut(requested=True, given=facts.training_given)
    return CertificateVerification(
        valid=True,
        kind=document.kind,
        case_id=document.case_id,
        issued_at=document.created_at,
        sha256=document.sha256,
        training=training,
    )
