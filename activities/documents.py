"""Render PDFs, store them by SHA-256 and record a reference. PDFs never enter history."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities import stubs
from activities.bad_data import refuses_bad_data
from db import models
from db.document_store import DocumentStore
from db.types import utcnow
from documents.certificates import (
    render_coverage_certificate,
    render_relocation_certificate,
    render_repair_certificate,
)
from documents.labels import render_label
from documents.packing_slip import render_packing_slip
from domain.common import DocumentRef

# Re-exported (`X as X`) until every workflow imports domain.contracts.
from domain.contracts.documents import CoverageCertificateRequest as CoverageCertificateRequest
from domain.contracts.documents import LabelRequest as LabelRequest
from domain.contracts.documents import PackingSlipRequest as PackingSlipRequest
from domain.contracts.documents import RelocationCertificateRequest as RelocationCertificateRequest
from domain.contracts.documents import RepairCertificateRequest as RepairCertificateRequest
from domain.documents import (
    CoverageCertificateData,
    RelocationCertificateData,
    RepairCertificateData,
)

CertificateT = TypeVar(
    "CertificateT", RepairCertificateData, RelocationCertificateData, CoverageCertificateData
)


# Crockford's base32 without look-alikes: a code people can read out and type.
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_verification_code(prefix: str) -> str:
    """60 random bits in three groups of four, e.g. `CR-7K3M-9QXA-2BHD`."""
    chars = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(12))
    return f"{prefix}-{chars[:4]}-{chars[4:8]}-{chars[8:]}"


class DocumentActivities(stubs.DocumentActivities):
    def __init__(self, sessions: async_sessionmaker[AsyncSession], store: DocumentStore) -> None:
        self.sessions = sessions
        self.store = store

    @activity.defn
    @refuses_bad_data
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
    @refuses_bad_data
    async def render_packing_slip(self, request: PackingSlipRequest) -> DocumentRef:
        existing = await self._by_key(request.idempotency_key)
        if existing is not None:
            return existing
        pdf = await asyncio.to_thread(render_packing_slip, request.slip)
        return await self._store(
            request.idempotency_key, request.org_id, request.case_id, "packing_slip", pdf
        )

    @activity.defn
    @refuses_bad_data
    async def render_repair_certificate(self, request: RepairCertificateRequest) -> DocumentRef:
        return await self._certificate(
            request.idempotency_key,
            request.org_id,
            request.case_id,
            "repair_certificate",
            "CR",
            request.public_base_url,
            request.certificate,
            render_repair_certificate,
        )

    @activity.defn
    @refuses_bad_data
    async def render_relocation_certificate(
        self, request: RelocationCertificateRequest
    ) -> DocumentRef:
        return await self._certificate(
            request.idempotency_key,
            request.org_id,
            request.case_id,
            "relocation_certificate",
            "RC",
            request.public_base_url,
            request.certificate,
            render_relocation_certificate,
        )

    @activity.defn
    @refuses_bad_data
    async def render_coverage_certificate(self, request: CoverageCertificateRequest) -> DocumentRef:
        return await self._certificate(
            request.idempotency_key,
            request.org_id,
            request.case_id,
            "coverage_certificate",
            "CC",
            request.public_base_url,
            request.certificate,
            render_coverage_certificate,
        )

    async def _certificate(
        self,
        key: str,
        org_id: str,
        case_id: str,
        kind: str,
        prefix: str,
        base_url: str,
        certificate: CertificateT,
        render: Callable[[CertificateT], bytes],
    ) -> DocumentRef:
        """Draw the verification code once, print it (and its verify URL) on the
        certificate, store the PDF. A retry finds the stored one by its key."""
        existing = await self._by_key(key)
        if existing is not None:
            return existing
        code = new_verification_code(prefix)
        data = dataclasses.replace(
            certificate, verification_code=code, verify_url=f"{base_url}/v1/verify/{code}"
        )
        pdf = await asyncio.to_thread(render, data)
        return await self._store(key, org_id, case_id, kind, pdf, verification_code=code)

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
