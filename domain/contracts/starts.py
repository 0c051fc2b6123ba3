"""The start input of a case that another case starts: what a child takes from its parent.

One builder per (parent, child) pair, so a workflow names the child it starts and the
decisions it made (coverage, center), not thirty fields copied by hand. Child case ids and
tracking tokens follow the parent's: ids are the parent's number under the child's prefix,
tokens are drawn by the API when the parent is created (workflows draw no secrets), with a
fallback derived from the parent's token for parents created before the API drew them.
"""

from __future__ import annotations

import dataclasses

from domain.common import Address, Customer
from domain.ids import child_case_id
from domain.repair import AssignedCenter, RepairCoverage, RepairStart, RepairUnit
from domain.replacement import ReplacementMode, ReplacementStart
from domain.rma import Coverage, RmaStart, order_payment_method
from domain.service_plan import ClaimRequest, ServicePlanStart


def repair_from_rma(
    rma: RmaStart,
    coverage: Coverage | None,
    center: AssignedCenter | None,
    unit_origin: Address | None,
) -> RepairStart:
    """The repair an RMA resolved by repair starts for its first item, under the coverage
    the RMA decided. `center` is set when the RMA's label routed the unit there already
    (then `unit_origin` is None: the center holds it); otherwise the unit travels from
    `unit_origin`."""
    item = rma.items[0]
    return RepairStart(
        repair_id=child_case_id(rma.rma_id, "REP"),
        org_id=rma.org_id,
        org_name=rma.org_name,
        tracking_token=rma.repair_tracking_token or f"{rma.tracking_token}r",
        unit=RepairUnit(
            sku=item.sku,
            serial=item.serial,
            product_name=item.product_name or item.sku,
            category=item.category,
            purchased_at=rma.purchased_at,
            unit_price=item.unit_price,
        ),
        fault=item.notes or item.reason.value,
        customer=rma.customer,
        coverage=RepairCoverage((coverage or Coverage.PAID).value),
        policy=rma.policy,
        public_base_url=rma.public_base_url,
        center=center,
        unit_origin=unit_origin,
        rma_id=rma.rma_id,
    )


def replacement_from_rma(rma: RmaStart, repair_id: str | None) -> ReplacementStart:
    """The standard replacement of an RMA's first item (the defective unit is with us),
    refunded to the order's payment if it cannot be fulfilled. `repair_id` names the repair
    that found the unit beyond repair, if one did."""
    item = rma.items[0]
    return ReplacementStart(
        replacement_id=child_case_id(rma.rma_id, "RPL"),
        org_id=rma.org_id,
        org_name=rma.org_name,
        tracking_token=rma.replacement_tracking_token or f"{rma.tracking_token}x",
        mode=ReplacementMode.STANDARD,
        sku=item.sku,
        serial=item.serial,
        replacement_sku=item.sku,
        replacement_name=item.product_name or item.sku,
        unit_price=item.unit_price,
        customer=rma.customer,
        # Its refund, if it cannot be fulfilled, goes back to the order's payment too.
        payment_method=rma.payment_reference or order_payment_method(rma.order_ref),
        policy=rma.policy,
        public_base_url=rma.public_base_url,
        rma_id=rma.rma_id,
        repair_id=repair_id,
    )


def replacement_from_repair(repair: RepairStart) -> ReplacementStart:
    """The standard replacement a direct repair job found beyond repair starts itself."""
    return ReplacementStart(
        replacement_id=child_case_id(repair.repair_id, "RPL"),
        org_id=repair.org_id,
        org_name=repair.org_name,
        tracking_token=repair.replacement_tracking_token or f"{repair.tracking_token}x",
        mode=ReplacementMode.STANDARD,
        sku=repair.unit.sku,
        serial=repair.unit.serial,
        replacement_sku=repair.unit.sku,
        replacement_name=repair.unit.product_name,
        unit_price=repair.unit.unit_price,
        customer=repair.customer,
        payment_method="original",
        policy=repair.policy,
        public_base_url=repair.public_base_url,
        repair_id=repair.repair_id,
    )


def claim_case_id(plan: ServicePlanStart, prefix: str, number: int) -> str:
    """The id of a plan's claim case: the plan's number under the child's prefix, with the
    claim's number (`REP-2026-...-C2`)."""
    return f"{child_case_id(plan.plan_id, prefix)}-C{number}"


def claim_holder(customer: Customer, unit_site: Address | None) -> Customer:
    """Who a claim's parcel is collected from and comes back to: the plan holder, at the
    site where the covered unit stands now (it may have been relocated)."""
    if unit_site is None:
        return customer
    return dataclasses.replace(customer, address=unit_site)


def claim_tracking_token(plan: ServicePlanStart, request: ClaimRequest, number: int) -> str:
    return request.child_tracking_token or f"{plan.tracking_token}c{number}"


def repair_for_claim(
    plan: ServicePlanStart, request: ClaimRequest, number: int, holder: Customer
) -> RepairStart:
    """The repair an approved repair claim starts: collected from and returned to `holder`."""
    return RepairStart(
        repair_id=claim_case_id(plan, "REP", number),
        org_id=plan.org_id,
        org_name=plan.org_name,
        tracking_token=claim_tracking_token(plan, request, number),
        unit=RepairUnit(
            sku=plan.sku,
            serial=plan.serial,
            product_name=plan.product_name,
            category=plan.category,
            unit_price=plan.unit_price,
        ),
        fault=f"{request.incident}: {request.description}".strip(": "),
        customer=holder,
        coverage=RepairCoverage.SERVICE_PLAN,
        policy=plan.policy,
        public_base_url=plan.public_base_url,
        unit_origin=holder.address,
    )


def replacement_for_claim(
    plan: ServicePlanStart,
    request: ClaimRequest,
    number: int,
    holder: Customer,
    payment_method: str,
) -> ReplacementStart:
    """The standard replacement an approved replacement claim starts, shipped to `holder`
    and charged, if ever, to the plan's current `payment_method`."""
    return ReplacementStart(
        replacement_id=claim_case_id(plan, "RPL", number),
        org_id=plan.org_id,
        org_name=plan.org_name,
        tracking_token=claim_tracking_token(plan, request, number),
        mode=ReplacementMode.STANDARD,
        sku=plan.sku,
        serial=plan.serial,
        replacement_sku=plan.sku,
        replacement_name=plan.product_name,
        unit_price=plan.unit_price,
        customer=holder,
        payment_method=payment_method,
        policy=plan.policy,
        public_base_url=plan.public_base_url,
        # The plan pays for it: the read model counts it among the plan's claims.
        coverage=RepairCoverage.SERVICE_PLAN.value,
    )
