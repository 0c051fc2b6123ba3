"""GET /v1/documents/{id}: the PDF, to its owner organisation or with the case's token."""

from __future__ import annotations

import asyncio
import hmac
from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from api.auth import bearer_token, resolve
from api.deps import Resources, ResourcesDep, SessionDep
from api.errors import not_found, unauthorized
from db import models
from db.documents import document_and_case, tracking_tokens_opening

router = APIRouter(prefix="/v1/documents", tags=["documents"])


@router.get(
    "/{document_id}",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}},
        307: {"description": "A presigned URL of the PDF (AFTERSALES_DOCUMENT_DELIVERY=redirect)"},
    },
)
async def get_document(
    document_id: str,
    session: SessionDep,
    res: ResourcesDep,
    token: Annotated[str | None, Query()] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    if token is None and authorization is None:
        raise unauthorized("an API key or the case's tracking token is required")
    found = await document_and_case(session, document_id)
    if found is None:
        raise not_found("document")
    document, case = found
    if token is not None:
        allowed = _token_opens(await tracking_tokens_opening(session, case), token)
    else:
        principal = await resolve(
            session, bearer_token(authorization), res.settings.required_admin_key, res.keys
        )
        allowed = organisation_opens(principal.org_id, case)
    if not allowed:
        raise not_found("document")
    return await document_response(res, document, case)


def organisation_opens(org_id: str | None, case: models.Case) -> bool:
    """An organisation opens the documents of its own cases and of those it works (the
    repair center or provider the unit is sent to); the console asks the same."""
    return org_id is not None and org_id in (case.org_id, case.receiving_org_id)


async def document_response(
    res: Resources, document: models.Document, case: models.Case
) -> Response:
    """The PDF, streamed (or a presigned URL's redirect), to a caller already let in."""
    filename = f"{case.id}-{document.kind}.pdf"
    settings = res.settings
    if settings.document_delivery == "redirect":
        url = await asyncio.to_thread(
            res.documents.presigned_url,
            document.storage_key,
            filename,
            settings.document_url_ttl_seconds,
        )
        if url is not None:
            # The URL opens the document to whoever holds it until it expires: never cached.
            return RedirectResponse(url, status_code=307, headers={"Cache-Control": "no-store"})
    try:
        # Opened before answering, so a missing file is a 404 and not a broken stream.
        opened = await asyncio.to_thread(res.documents.open, document.storage_key)
    except FileNotFoundError as exc:
        raise not_found("document content") from exc
    # A sync iterator: Starlette reads each chunk in its thread pool, off the event loop.
    return StreamingResponse(
        opened.chunks,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{filename}"',
            "Content-Length": str(opened.size),
            "ETag": f'"{document.sha256}"',
        },
    )


def _token_opens(tokens: list[str], token: str) -> bool:
    """`token` is one of `tokens`: the case's own, or that of the case it was started for
    (the same customer, who follows one link)."""
    # Compare against every candidate so the answer takes the same time whichever matched.
    return any([hmac.compare_digest(token.encode(), t.encode()) for t in tokens])
