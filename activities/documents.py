"""Render PDFs, store them by SHA-256 and record a reference. PDFs never enter history."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities import stubs
from activities.bad_data import refuses_bad_data
from activities.store import StoreActivities
from db import models
from db.document_store import DocumentStore
from db.outbox import PendingDelivery, table_of
from db.projection import locked_case, reader_of_case
from db.readers import Reader, document_reader
from db.session import POINT_READ
from db.types import utcnow
from documents.certificates import (
    render_coverage_certificate,
    render_installation_certificate,
    render_relocation_certificate,
    render_repair_certificate,
)
from documents.labels import render_label
from documents.packing_slip import render_packing_slip
from documents.style import Words
from domain.common import DocumentRef
from domain.contracts.documents import (
    CoverageCertificateRequest,
    DocumentsAndProjection,
    InstallationCertificateRequest,
    LabelRequest,
    PackingSlipRequest,
    RelocationCertificateRequest,
    RepairCertificateRequest,
)
from domain.documents import (
    CoverageCertificateData,
    InstallationCertificateData,
    PackingSlipData,
    RelocationCertificateData,
    RepairCertificateData,
)
from presentation.document_words import localised

CertificateT = TypeVar(
    "CertificateT",
    RepairCertificateData,
    RelocationCertificateData,
    CoverageCertificateData,
    InstallationCertificateData,
)


# Crockford's base32 without look-alikes: a code people can read out and type.
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_verification_code(prefix: str) -> str:
    """60 random bits in three groups of four, e.g. `CR-7K3M-9QXA-2BHD`."""
    chars = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(12))
    return f"{prefix}-{chars[:4]}-{chars[4:8]}-{chars[8:]}"


@dataclasses.dataclass(frozen=True)
class _Render:
    """A document to render: its step's key, the case it belongs to, its kind, its renderer."""

    key: str
    org_id: str
    case_id: str
    kind: str
    render: Callable[[], bytes]
    verification_code: str | None = None


class DocumentActivities(stubs.DocumentActivities):
    """`projector` writes the state change `render_and_project` stores its documents with."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        store: DocumentStore,
        projector: StoreActivities | None = None,
    ) -> None:
        self.sessions = sessions
        self.store = store
        self.projector = projector

    @activity.defn
    @refuses_bad_data
    async def render_label(self, request: LabelRequest) -> DocumentRef:
        existing = await self._by_key(request.idempotency_key)
        if existing is not None:
            return existing
        reader = await self._reader(request.org_id, request.case_id)
        # Rendering is CPU work: keep it off the event loop that heartbeats other activities.
        pdf = await asyncio.to_thread(self._label_pdf, request, reader)
        return await self._store(
            request.idempotency_key, request.org_id, request.case_id, request.label.kind, pdf
        )

    @activity.defn
    @refuses_bad_data
    async def render_packing_slip(self, request: PackingSlipRequest) -> DocumentRef:
        existing = await self._by_key(request.idempotency_key)
        if existing is not None:
            return existing
        reader = await self._reader(request.org_id, request.case_id)
        pdf = await asyncio.to_thread(_packing_slip, request.slip, reader)
        return await self._store(
            request.idempotency_key, request.org_id, request.case_id, "packing_slip", pdf
        )

    @activity.defn
    @refuses_bad_data
    async def render_and_project(self, request: DocumentsAndProjection) -> list[DocumentRef]:
        """Render the labels, slips and certificates not stored yet (one thread hand-off
        for all), then store them and the projection in one transaction: one step where
        `render_label`, `render_packing_slip`, `render_repair_certificate` and `project`
        were one each. Each document keeps its step's key, so a retry renders and stores
        each once (and a certificate keeps the verification code first stored with it)."""
        if self.projector is None:
            raise RuntimeError("render_and_project needs the read model's projector")
        change = request.projection
        keys = [r.idempotency_key for r in request.certificates]
        keys += [r.idempotency_key for r in request.labels]
        keys += [r.idempotency_key for r in request.slips]
        projector = self.projector
        writer = projector.writer

        async def write(
            session: AsyncSession,
        ) -> tuple[list[PendingDelivery], dict[str, DocumentRef], dict[str, DocumentRef]]:
            # The case row the projection changes (locked, on PostgreSQL, until the
            # documents are stored with it) says whose words they are in; what an
            # earlier attempt stored is read in the same transaction.
            row = await locked_case(session, change.case_id)
            readers = {(row.org_id, change.case_id): reader_of_case(row)}
            for case in _cases_of(request):
                if case not in readers:
                    readers[case] = await document_reader(session, *case)
            found = await _by_keys(session, keys)
            missing = [w for w in _renders(self, request, readers) if w.key not in found]
            # Rendering is CPU work: keep it off the event loop that heartbeats others.
            stored = await writer.off_loop(partial(self._render_and_put, missing))
            fresh = {
                w.key: DocumentRef(
                    id=models.new_id(),
                    kind=w.kind,
                    sha256=sha,
                    verification_code=w.verification_code,
                )
                for w, (sha, _, _) in zip(missing, stored, strict=True)
            }
            rows = [
                {
                    "id": fresh[w.key].id,
                    "org_id": w.org_id,
                    "case_id": w.case_id,
                    "kind": w.kind,
                    "sha256": sha,
                    "size": size,
                    "storage_key": storage_key,
                    "idempotency_key": w.key,
                    "verification_code": w.verification_code,
                    "created_at": utcnow(),
                }
                for w, (sha, storage_key, size) in zip(missing, stored, strict=True)
            ]
            if rows:
                await session.execute(insert(_DOCUMENTS), rows)
            pending = await projector.project_in(session, change, row)
            return pending, found, fresh

        for last_try in (False, True):
            try:
                (pending, found, fresh), noted = await writer.transaction(write)
                break
            except IntegrityError:
                # An earlier attempt still running stored one: the next finds it by its key.
                if last_try:
                    raise
        await projector.after_commit(noted, pending)
        found |= fresh
        return [found[key] for key in keys]

    def _label_pdf(self, request: LabelRequest, reader: Reader) -> bytes:
        """The parcel's label: the one its carrier drew (stored when it was booked), else
        ours, in the customer's words. Either is stored and served the same way."""
        if request.carrier_label_sha256:
            return self.store.read(self.store.key_of(request.carrier_label_sha256))
        return render_label(localised(request.label, reader.t), reader.t)

    async def _reader(self, org_id: str, case_id: str) -> Reader:
        """Whose words and paper the case's documents are in."""
        async with self.sessions() as session:
            return await document_reader(session, org_id, case_id)

    def _render_and_put(self, renders: list[_Render]) -> list[tuple[str, str, int]]:
        """Each PDF rendered and put in the store: its SHA-256, storage key and size."""
        stored = []
        for one in renders:
            pdf = one.render()
            sha, storage_key = self.store.put(pdf)
            stored.append((sha, storage_key, len(pdf)))
        return stored

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
    async def render_installation_certificate(
        self, request: InstallationCertificateRequest
    ) -> DocumentRef:
        return await self._certificate(
            request.idempotency_key,
            request.org_id,
            request.case_id,
            "installation_certificate",
            "IC",
            request.public_base_url,
            request.certificate,
            render_installation_certificate,
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
        render: Callable[[CertificateT, Words, str], bytes],
    ) -> DocumentRef:
        """Draw the verification code once, print it (and its verify URL) on the
        certificate, store the PDF. A retry finds the stored one by its key."""
        existing = await self._by_key(key)
        if existing is not None:
            return existing
        reader = await self._reader(org_id, case_id)
        data = with_code(certificate, prefix, base_url)
        pdf = await asyncio.to_thread(
            render, localised(data, reader.t), reader.t, reader.paper_size
        )
        return await self._store(
            key, org_id, case_id, kind, pdf, verification_code=data.verification_code
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
            return (await _by_keys(session, [key])).get(key)


_DOCUMENTS = table_of(models.Document)
T = TypeVar("T")


def _bind(render: Callable[[T], bytes], data: T) -> Callable[[], bytes]:
    return lambda: render(data)


def with_code(certificate: CertificateT, prefix: str, base_url: str) -> CertificateT:
    """The certificate with a newly drawn verification code and the link to verify it."""
    code = new_verification_code(prefix)
    return dataclasses.replace(
        certificate, verification_code=code, verify_url=f"{base_url}/v1/verify/{code}"
    )


def _cases_of(request: DocumentsAndProjection) -> list[tuple[str, str]]:
    """The (organisation, case) pairs the request's documents belong to."""
    found = {(r.org_id, r.case_id) for r in request.labels}
    found |= {(r.org_id, r.case_id) for r in request.slips}
    found |= {(r.org_id, r.case_id) for r in request.certificates}
    return sorted(found)


def _renders(
    activities: DocumentActivities,
    request: DocumentsAndProjection,
    readers: dict[tuple[str, str], Reader],
) -> list[_Render]:
    """Every document of the request to render, in the contract's order: certificates
    (each with a verification code drawn for this attempt), labels, slips."""
    return [
        *(_repair_certificate(r, readers[r.org_id, r.case_id]) for r in request.certificates),
        *(
            _Render(
                r.idempotency_key,
                r.org_id,
                r.case_id,
                r.label.kind,
                partial(activities._label_pdf, r, readers[r.org_id, r.case_id]),
            )
            for r in request.labels
        ),
        *(
            _Render(
                r.idempotency_key,
                r.org_id,
                r.case_id,
                "packing_slip",
                partial(_packing_slip, r.slip, readers[r.org_id, r.case_id]),
            )
            for r in request.slips
        ),
    ]


def _repair_certificate(request: RepairCertificateRequest, reader: Reader) -> _Render:
    """A Certificate of Repair to render, its verification code drawn for this attempt."""
    certificate = with_code(request.certificate, "CR", request.public_base_url)
    words = localised(certificate, reader.t)
    return _Render(
        request.idempotency_key,
        request.org_id,
        request.case_id,
        "repair_certificate",
        lambda: render_repair_certificate(words, reader.t, reader.paper_size),
        certificate.verification_code,
    )


def _packing_slip(slip: PackingSlipData, reader: Reader) -> bytes:
    """The packing slip in the customer's words, on the retailer's paper."""
    return render_packing_slip(localised(slip, reader.t), reader.t, reader.paper_size)


# Built once, the keys bound at execution; a read bounded by its keys (`POINT_READ`).
_BY_KEYS = (
    select(
        _DOCUMENTS.c.idempotency_key,
        _DOCUMENTS.c.id,
        _DOCUMENTS.c.kind,
        _DOCUMENTS.c.sha256,
        _DOCUMENTS.c.verification_code,
    )
    .where(_DOCUMENTS.c.idempotency_key.in_(bindparam("keys", expanding=True)))
    .execution_options(**POINT_READ)
)


async def _by_keys(session: AsyncSession, keys: list[str]) -> dict[str, DocumentRef]:
    """The stored documents of these step keys, by key."""
    rows = await session.execute(_BY_KEYS, {"keys": keys})
    return {
        key: DocumentRef(id=id_, kind=kind, sha256=sha, verification_code=code)
        for key, id_, kind, sha, code in rows
    }
