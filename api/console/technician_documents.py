"""A case's documents in the console: the labels to print and the certificate, opened at
`/console/documents/{id}` by the same rule and answer as `GET /v1/documents/{id}` with an
API key (the case's owner, or the center or provider working it); the console's session
cookie stands in for the key, since it is never sent to `/v1`."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter
from fastapi.responses import Response

from api.console.session import ConsoleUserDep
from api.deps import ResourcesDep, SessionDep
from api.errors import not_found
from api.routes.documents import document_response, organisation_opens
from db.documents import document_and_case
from db.queries import CaseBundle
from presentation.copy import document_words

router = APIRouter()

# What a worker prints first: the label on the parcel, then the certificate in the box.
_ORDER = {
    "shipping_label": 0,
    "return_label": 1,
    "repair_certificate": 2,
    "relocation_certificate": 2,
    "installation_certificate": 2,
}


@dataclass(frozen=True)
class DocumentLink:
    kind: str
    label: str
    url: str
    verification_code: str | None


def document_links(bundle: CaseBundle) -> list[DocumentLink]:
    documents = sorted(bundle.documents, key=lambda d: _ORDER.get(d.kind, 9))
    return [
        DocumentLink(
            d.kind, document_words(d.kind), f"/console/documents/{d.id}", d.verification_code
        )
        for d in documents
    ]


@router.get("/documents/{document_id}", name="console_document")
async def console_document(
    document_id: str, user: ConsoleUserDep, session: SessionDep, res: ResourcesDep
) -> Response:
    found = await document_and_case(session, document_id)
    if found is None or not organisation_opens(user.org_id, found[1]):
        raise not_found("document")
    return await document_response(res, *found)
