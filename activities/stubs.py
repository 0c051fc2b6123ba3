"""The activities as workflows see them: one abstract class per activity module, its methods
the activity definitions (name, argument and result types), no bodies.

Why stubs: workflows call activities by method reference
(`workflow.execute_activity_method(StoreActivities.project, ...)`), so they must import a
class that carries the definitions. The implementations need SQLAlchemy, httpx, reportlab
and the Temporal client; had workflows imported them, every workflow module (and the
sandbox) would load those too. This module imports only `temporalio.activity` and
`domain.contracts`, so it is all a workflow imports of the activities layer.

Each implementation class (`activities.store.StoreActivities`, ...) subclasses its stub and
repeats `@activity.defn` on each method, so the names are the same by construction; mypy
checks each override's signature against the stub, and an implementation that leaves a
method out cannot be instantiated (abstract methods), so the worker fails at start.
A new activity is declared here first, then implemented in its module."""

from __future__ import annotations

from abc import ABC, abstractmethod

from temporalio import activity

from domain.campaign import (
    CampaignEnd,
    DiscoverPage,
    DiscoverResult,
    SendPage,
    SendResult,
    WarrantyPage,
    WarrantyPageResult,
)
from domain.common import DocumentRef, ShipmentRef
from domain.contracts.carrier import BookShipment, VoidShipment
from domain.contracts.documents import (
    CoverageCertificateRequest,
    DocumentsAndProjection,
    InstallationCertificateRequest,
    LabelRequest,
    PackingSlipRequest,
    RelocationCertificateRequest,
    RepairCertificateRequest,
)
from domain.contracts.inventory import ReserveRequest, ReserveResult, SettleRequest
from domain.contracts.payments import PaymentRequest, PaymentResult
from domain.contracts.routing import RouteRequest, RouteResult
from domain.contracts.store import (
    CaseProjection,
    ClaimingCase,
    CustomerChange,
    InstallAsset,
    InstalledAsset,
    MoveAsset,
    NewCase,
    PlanFound,
    PlanLookup,
    PlanTermsAnswer,
    PlanTermsRequest,
    SerialClaim,
    SerialClaimResult,
    SerialRelease,
)
from domain.delivery import DeliveryOutcome, DeliveryRef, DeliveryRun, DeliveryRunOutcome


class StoreActivities(ABC):
    """The read model (activities/store.py)."""

    @activity.defn
    @abstractmethod
    async def record_case(self, new: NewCase) -> None: ...

    @activity.defn
    @abstractmethod
    async def claim_serials(self, claim: SerialClaim) -> SerialClaimResult: ...

    @activity.defn
    @abstractmethod
    async def record_claiming(self, case: ClaimingCase) -> SerialClaimResult: ...

    @activity.defn
    @abstractmethod
    async def release_serials(self, release: SerialRelease) -> None: ...

    @activity.defn
    @abstractmethod
    async def project(self, projection: CaseProjection) -> None: ...

    @activity.defn
    @abstractmethod
    async def move_asset(self, move: MoveAsset) -> None: ...

    @activity.defn
    @abstractmethod
    async def install_asset(self, install: InstallAsset) -> InstalledAsset: ...

    @activity.defn
    @abstractmethod
    async def replace_customer(self, change: CustomerChange) -> None: ...

    @activity.defn
    @abstractmethod
    async def open_plan_of(self, lookup: PlanLookup) -> PlanFound: ...

    @activity.defn
    @abstractmethod
    async def current_plan_terms(self, request: PlanTermsRequest) -> PlanTermsAnswer: ...


class CarrierActivities(ABC):
    """Parcels (activities/carrier.py)."""

    @activity.defn
    @abstractmethod
    async def book_shipment(self, request: BookShipment) -> ShipmentRef: ...

    @activity.defn
    @abstractmethod
    async def void_shipment(self, request: VoidShipment) -> None: ...


class DocumentActivities(ABC):
    """PDFs, answered by reference (activities/documents.py)."""

    @activity.defn
    @abstractmethod
    async def render_label(self, request: LabelRequest) -> DocumentRef: ...

    @activity.defn
    @abstractmethod
    async def render_packing_slip(self, request: PackingSlipRequest) -> DocumentRef: ...

    @activity.defn
    @abstractmethod
    async def render_and_project(self, request: DocumentsAndProjection) -> list[DocumentRef]: ...

    @activity.defn
    @abstractmethod
    async def render_repair_certificate(self, request: RepairCertificateRequest) -> DocumentRef: ...

    @activity.defn
    @abstractmethod
    async def render_relocation_certificate(
        self, request: RelocationCertificateRequest
    ) -> DocumentRef: ...

    @activity.defn
    @abstractmethod
    async def render_installation_certificate(
        self, request: InstallationCertificateRequest
    ) -> DocumentRef: ...

    @activity.defn
    @abstractmethod
    async def render_coverage_certificate(
        self, request: CoverageCertificateRequest
    ) -> DocumentRef: ...


class PaymentActivities(ABC):
    """Money movements (activities/payments.py)."""

    @activity.defn
    @abstractmethod
    async def execute_payment(self, request: PaymentRequest) -> PaymentResult: ...


class RoutingActivities(ABC):
    """Repair-center choice (activities/routing.py)."""

    @activity.defn
    @abstractmethod
    async def route_repair(self, request: RouteRequest) -> RouteResult: ...


class InventoryActivities(ABC):
    """Replacement stock (activities/inventory.py)."""

    @activity.defn
    @abstractmethod
    async def reserve_stock(self, request: ReserveRequest) -> ReserveResult: ...

    @activity.defn
    @abstractmethod
    async def release_stock(self, request: SettleRequest) -> None: ...

    @activity.defn
    @abstractmethod
    async def consume_stock(self, request: SettleRequest) -> None: ...


class NotifyActivities(ABC):
    """Webhook and email attempts (activities/notify.py)."""

    @activity.defn
    @abstractmethod
    async def deliver_webhook(self, ref: DeliveryRef) -> DeliveryOutcome: ...

    @activity.defn
    @abstractmethod
    async def deliver_webhooks(self, run: DeliveryRun) -> DeliveryRunOutcome: ...

    @activity.defn
    @abstractmethod
    async def send_email(self, ref: DeliveryRef) -> DeliveryOutcome: ...

    @activity.defn
    @abstractmethod
    async def give_up(self, ref: DeliveryRef) -> None: ...


class CampaignActivities(ABC):
    """Campaign emails and warranty-end notices, a page at a time (activities/campaigns.py)."""

    @activity.defn
    @abstractmethod
    async def discover_recipients(self, page: DiscoverPage) -> DiscoverResult: ...

    @activity.defn
    @abstractmethod
    async def send_campaign_page(self, page: SendPage) -> SendResult: ...

    @activity.defn
    @abstractmethod
    async def finish_campaign(self, end: CampaignEnd) -> None: ...

    @activity.defn
    @abstractmethod
    async def send_warranty_notices(self, page: WarrantyPage) -> WarrantyPageResult: ...
