"""Requests of the document activities (activities/documents.py); each answers a
`domain.common.DocumentRef`, never the PDF."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.contracts.store import CaseProjection
from domain.documents import (
    CoverageCertificateData,
    InstallationCertificateData,
    LabelData,
    PackingSlipData,
    RelocationCertificateData,
    RepairCertificateData,
)


@dataclass
class LabelRequest:
    idempotency_key: str
    org_id: str
    case_id: str
    label: LabelData
    # The carrier's own label (already in the document store, by its SHA-256), stored as
    # this label instead of drawing `label`; empty: draw it.
    carrier_label_sha256: str = ""


@dataclass
class PackingSlipRequest:
    idempotency_key: str
    org_id: str
    case_id: str
    slip: PackingSlipData


@dataclass
class RelocationCertificateRequest:
    idempotency_key: str
    org_id: str
    case_id: str
    certificate: RelocationCertificateData
    public_base_url: str


@dataclass
class InstallationCertificateRequest:
    idempotency_key: str
    org_id: str
    case_id: str
    certificate: InstallationCertificateData
    public_base_url: str


@dataclass
class CoverageCertificateRequest:
    idempotency_key: str
    org_id: str
    case_id: str
    certificate: CoverageCertificateData
    public_base_url: str


@dataclass
class RepairCertificateRequest:
    """The certificate without its verification code: the activity draws one, once."""

    idempotency_key: str
    org_id: str
    case_id: str
    certificate: RepairCertificateData
    public_base_url: str


@dataclass
class DocumentsAndProjection:
    """Documents rendered and stored with the state change they come with, in one
    transaction: answered as `DocumentRef`s, certificates first (each with the verification
    code the activity drew for it, once), then labels, then packing slips."""

    labels: list[LabelRequest]
    slips: list[PackingSlipRequest]
    projection: CaseProjection
    # Absent from requests recorded before repair certificates joined the step.
    certificates: list[RepairCertificateRequest] = field(default_factory=list)
