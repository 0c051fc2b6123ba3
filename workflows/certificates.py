"""Issuing a case's certificates: rendered and stored by the documents activities, once per
case and step, each with a verification code the activity draws and a link to verify it.

    self.certificates = Certificates(start.org_id, case_id, start.public_base_url)
    document = await self.certificates.relocation(relocation_certificate(...))

The lifecycle builds what the certificate says (a pure function in its `domain` module); the
kit names the step and sends it.
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.stubs import DocumentActivities
    from domain.common import DocumentRef
    from domain.contracts.documents import (
        CoverageCertificateRequest,
        InstallationCertificateRequest,
        RelocationCertificateRequest,
        RepairCertificateRequest,
    )
    from domain.documents import (
        CoverageCertificateData,
        InstallationCertificateData,
        RelocationCertificateData,
        RepairCertificateData,
    )
    from domain.ids import step_key
    from workflows.base import QUICK_RETRY, RENDER_TIMEOUT


@dataclass(frozen=True)
class Certificates:
    """One case's certificates: under the case's org and number, verified at its base URL."""

    org_id: str
    case_id: str
    public_base_url: str

    async def relocation(
        self, certificate: RelocationCertificateData, step: str = "relocation-certificate"
    ) -> DocumentRef:
        """The Relocation & Installation Certificate of a commissioned relocation."""
        return await workflow.execute_local_activity_method(
            DocumentActivities.render_relocation_certificate,
            RelocationCertificateRequest(
                idempotency_key=_key(step),
                org_id=self.org_id,
                case_id=self.case_id,
                public_base_url=self.public_base_url,
                certificate=certificate,
            ),
            start_to_close_timeout=RENDER_TIMEOUT,
            retry_policy=QUICK_RETRY,
        )

    async def installation(
        self, certificate: InstallationCertificateData, step: str = "installation-certificate"
    ) -> DocumentRef:
        """The Installation Certificate of a commissioned installation."""
        return await workflow.execute_local_activity_method(
            DocumentActivities.render_installation_certificate,
            InstallationCertificateRequest(
                idempotency_key=_key(step),
                org_id=self.org_id,
                case_id=self.case_id,
                public_base_url=self.public_base_url,
                certificate=certificate,
            ),
            start_to_close_timeout=RENDER_TIMEOUT,
            retry_policy=QUICK_RETRY,
        )

    async def coverage(self, certificate: CoverageCertificateData, step: str) -> DocumentRef:
        """A plan's Certificate of Coverage (one per activation, renewal and transfer)."""
        return await workflow.execute_local_activity_method(
            DocumentActivities.render_coverage_certificate,
            CoverageCertificateRequest(
                idempotency_key=_key(step),
                org_id=self.org_id,
                case_id=self.case_id,
                public_base_url=self.public_base_url,
                certificate=certificate,
            ),
            start_to_close_timeout=RENDER_TIMEOUT,
            retry_policy=QUICK_RETRY,
        )

    async def repair(
        self, certificate: RepairCertificateData, step: str = "repair-certificate"
    ) -> DocumentRef:
        """The Certificate of Repair of a job that passed quality check."""
        return await workflow.execute_local_activity_method(
            DocumentActivities.render_repair_certificate,
            self.repair_request(certificate, step),
            start_to_close_timeout=RENDER_TIMEOUT,
            retry_policy=QUICK_RETRY,
        )

    def repair_request(
        self, certificate: RepairCertificateData, step: str = "repair-certificate"
    ) -> RepairCertificateRequest:
        """The Certificate of Repair as a request, for a step that issues it with others
        (`workflows.shipping.labelled`)."""
        return RepairCertificateRequest(
            idempotency_key=_key(step),
            org_id=self.org_id,
            case_id=self.case_id,
            public_base_url=self.public_base_url,
            certificate=certificate,
        )


def _key(step: str) -> str:
    return step_key(workflow.info().workflow_id, step)
