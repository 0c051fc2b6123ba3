"""What the PDF renderers take: plain data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from domain.common import Address


def long_date(moment: datetime) -> str:
    """A date as documents print it: "7 December 2026" (day unpadded, month in full)."""
    return f"{moment.day} {moment:%B %Y}"


@dataclass
class LabelData:
    """A 4x6 in parcel label (`return_label` or `shipping_label`)."""

    carrier: str
    service: str
    tracking_number: str
    case_number: str
    from_address: Address
    to_address: Address
    tracking_url: str
    kind: str = "return_label"
    weight: str = ""


@dataclass
class SlipItem:
    sku: str
    description: str
    serial: str
    quantity: int
    reason: str = ""


@dataclass
class PackingSlipData:
    case_number: str
    order_ref: str
    retailer_name: str
    customer_first_name: str
    items: list[SlipItem]
    tracking_number: str
    ship_by: str
    instructions: list[str] = field(default_factory=list)


@dataclass
class CertificatePart:
    part_no: str
    description: str
    quantity: int


@dataclass
class RepairCertificateData:
    """A Certificate of Repair; dates are display strings ("7 December 2026")."""

    certificate_number: str
    job_number: str
    retailer_name: str
    repair_center_name: str
    customer_first_name: str
    product_name: str
    sku: str
    serial: str
    fault_code: str
    fault: str
    work_done: str
    parts: list[CertificatePart]
    qa_passed_on: str
    repair_warranty_until: str
    verification_code: str
    verify_url: str


@dataclass
class ChecklistLine:
    item: str
    passed: bool
    note: str = ""


@dataclass
class RelocationCertificateData:
    """A Relocation & Installation Certificate; dates are display strings ("7 December 2026")."""

    certificate_number: str
    relocation_number: str
    retailer_name: str
    provider_name: str
    customer_first_name: str
    product_name: str
    sku: str
    serial: str
    from_site: Address
    to_site: Address
    technician: str
    uninstalled_on: str
    delivered_on: str
    commissioned_on: str
    uninstall_checklist: list[ChecklistLine]
    reinstall_checklist: list[ChecklistLine]
    commissioning_checklist: list[ChecklistLine]
    verification_code: str
    verify_url: str


@dataclass
class InstallationCertificateData:
    """An Installation Certificate; dates are display strings ("7 December 2026"), `training`
    says whether the training asked for was given ("Given", "Not given", "Not requested")."""

    certificate_number: str
    installation_number: str
    retailer_name: str
    provider_name: str
    customer_first_name: str
    product_name: str
    sku: str
    serial: str
    site: Address
    technician: str
    installed_on: str
    commissioned_on: str
    installation_checklist: list[ChecklistLine]
    commissioning_checklist: list[ChecklistLine]
    training: str
    verification_code: str
    verify_url: str


@dataclass
class CoverageCertificateData:
    """A Certificate of Coverage; dates are display strings ("7 December 2026")."""

    certificate_number: str
    plan_number: str
    retailer_name: str
    plan_name: str
    plan_code: str
    owner_name: str  # the plan holder's full name is printed: the certificate is theirs
    product_name: str
    sku: str
    serial: str
    term_starts_on: str
    term_ends_on: str
    claim_limit: str  # e.g. "2 claims per 12 months"
    # (claim type, amount with currency), e.g. ("Repair", "49.00 USD")
    deductibles: list[tuple[str, str]]
    incidents: list[str]  # covered incidents, display text
    issued_for: str  # why it was issued: "Activation", "Renewal" or "Transfer"
    verification_code: str
    verify_url: str
