"""Render PDFs, store them by SHA-256 and record a reference. PDFs never enter history."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from db import models
from db.document_store import DocumentStore
from db.types import utcnow
from documents.certificates import render_repair_certificate
from documents.labels import render_label
from documents.packing_slip import render_packing_slip
from domain.common import DocumentRef
from domain.documents import LabelData, PackingSlipData, RepairCertificateData


@dataclass
class LabelRequest:
    idempotency_key: str
    org_id: str
    case_id: str
    label: LabelData


@dataclass
class PackingSlipRequest:
    idempotency_key: str
    org_id: str
    case_id: str
    slip: PackingSlipData


@dataclass
class RepairCertificateRequest:
    """The certificate without its verification code: the activity draws one, once."""

    idempotency_key: str
    org_id: str
    case_id: str
    certificate: RepairCertificateData
    public_base_url: str


# Crockford's base32 without look-alikes: a code people can read out and type.
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_verification_code(prefix: str) -> str:
    """60 random bits in three groups of four, e.g. `CR-7K3M-9QXA-2BHD`."""
    chars = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(12))
    return f"{prefix}-{chars[:4]}-{chars[4:8]}-{chars[8:]}"


class DocumentActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], store: DocumentStore) -> None:
        self.sessions = sessions
        self.store = store

    @activity.defn
    async def render_label(self, request: LabelRequest) -> DocumentRef:
        existing = await self._by_key(request.idempotency_key)
        if existing is not None:
            return existing
        # Rendering is CPU work: keep it off the event loop that heartbeats other activities.
        pdf = await asyncio.to_thread(render_label, request.label)
        return await self._store(
            request.idempotency_key, request.org_id, request.case_id, request.label.kind, pdf
        )

    @activity.defn
    async def render_packing_slip(self, request: PackingSlipRequest) -> DocumentRef:
        existing = await self._by_key(request.idempotency_key)
        if existing is not None:
            return existing
        pdf = await asyncio.to_thread(render_packing_slip, request.slip)
        return await self._store(
            request.idempotency_key, request.org_id, request.case_id, "packing_slip", pdf
        )

    @activity.defn
    async def render_repair_certificate(self, request: RepairCertificateRequest) -> DocumentRef:
        existing = await self._by_key(request.idempotency_key)
        if existing is not None:
            return existing
        code = new_verification_code("CR")
        data = dataclasses.replace(
            request.certificate,
            verification_code=code,
            verify_url=f"{request.public_base_url}/v1/verify/{code}",
        )
        pdf = await asyncio.to_thread(render_repair_certificate, data)
        return await self._store(
            request.idempotency_key,
            request.org_id,
            request.case_id,
            "repair_certificate",
            pdf,
            verification_code=code,
        )

    async def _store(
        self,
        key: str,
        org_id: str,
        case_id: str,
        kind: str,
        pdf: bytes,
        verification_code: str | None = None,
    ) -> DocumentRef:
        sha, storage_key = await asyncio.to_thread(self.store.put, pdf)
        try:
            async with self.sessions.begin() as session:
                session.add(
                    models.Document(
                        org_id=org_id,
                        case_id=case_id,
                        kind=kind,
                        sha256=sha,
                        size=len(pdf),
                        storage_key=storage_key,
                        verification_code=verification_code,
                        idempotency_key=key,
                        created_at=utcnow(),
                    )
                )
        except IntegrityError:
            pass  # the same step stored it already
        stored = await self._by_key(key)
        if stored is None:
            raise RuntimeError(f"document {key} vanished")
        return stored

    async def _by_key(self, key: str) -> DocumentRef | None:
        async with self.sessions() as session:
            row = await session.scalar(
                select(models.Document).where(models.Document.idempotency_key == key)
            )
            if row is None:
                return None
            return DocumentRef(
                id=row.id, kind=row.kind, sha256=row.sha256, verification_code=row.verification_code
            )
