"""The service-plan workflow (lifecycles.md §5): one long-lived workflow per plan, billing on
durable timers, dunning, suspension, claims that start repairs and replacements, renewal,
cancellation with proration, transfer. It continues as new at each term and whenever
Temporal suggests it, carrying `PlanState` forward.

Message handlers and the billing loop take turns under one lock (the samples-python
`safe_message_handlers` pattern): a claim never interleaves with a charge.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.stubs import DocumentActivities, PaymentActivities, StoreActivities
    from domain.common import WORKFLOW_TASK_TIMEOUT
    from domain.contracts.documents import CoverageCertificateRequest
    from domain.contracts.payments import PaymentKind, PaymentRequest
    from domain.contracts.store import CaseItemRecord, CustomerChange, NewCase, PlanTermsRequest
    from domain.documents import CoverageCertificateData
    from domain.durations import add_months
    from domain.ids import repair_workflow_id, replacement_workflow_id, step_key
    from domain.repair import REPAIR_WORKFLOW, RepairCoverage, RepairStart, RepairUnit
    from domain.replacement import REPLACEMENT_WORKFLOW, ReplacementMode, ReplacementStart
    from domain.rma import Actor
    from domain.service_plan import (
        ASSET_MOVED_SIGNAL,
        CLAIM_UPDATE,
        PAYMENT_METHOD_UPDATE,
        PLAN_ACCEPT_UPDATE,
        PLAN_CANCEL_UPDATE,
        SERVICE_PLAN_WORKFLOW,
        TERMINAL_PLAN_STATUSES,
        TRANSFER_UPDATE,
        AssetMoved,
        CancelAnswer,
        Charge,
        ClaimAnswer,
        ClaimRecord,
        ClaimRefusal,
        ClaimRequest,
        ClaimType,
        PaymentMethodChange,
        PlanCancel,
        PlanState,
        PlanStatus,
        PlanTransfer,
        PlanView,
        ServicePlanStart,
        cancellation_refund,
        charge_dates,
        claim_refusal,
        renewal_notice_at,
        term_end,
    )
    from workflows.base import (
        EXTERNAL_RETRY,
        EXTERNAL_TIMEOUT,
        QUICK_RETRY,
        QUICK_TIMEOUT,
        RENDER_TIMEOUT,
        invalid_transition,
    )
    from workflows.recording import record_new_case, unrecordable
    from workflows.timeline import Timeline

P = PlanStatus
# Before this patch a continued plan applied a retried command again.
COMMAND_DEDUPE_PATCH = "plan-command-dedupe-across-runs"
REMEMBERED_COMMANDS = 50
TRANSFER_TOKEN_PATCH = "transfer-new-tracking-token"
SYSTEM = Actor("system")


class _Declined(Exception):
    pass


@workflow.defn(name=SERVICE_PLAN_WORKFLOW)
class ServicePlanWorkflow:
    def __init__(self) -> None:
        self.start: ServicePlanStart | None = None
        self.state: PlanState | None = None
        self.timeline = Timeline("")
        self.recorded = False
        # Why the case could not be stored, when its data is refused for good.
        self.unrecordable: str | None = None
        self.lock = asyncio.Lock()
        self.woken = False

    # ----------------------------------------------------------------- main loop

    @workflow.run
    async def run(self, start: ServicePlanStart) -> PlanView:
        self.start = start
        self.timeline = Timeline(start.plan_id)
        if start.state is None:
            await self._enroll(start)
            if self.unrecordable is not None:
                await workflow.wait_condition(workflow.all_handlers_finished)
                raise unrecordable(self.unrecordable)
        else:
            self.state = start.state
            self.timeline.seq = start.state.timeline_seq
            self.recorded = True
        state = self._state()
        while state.status not in TERMINAL_PLAN_STATUSES:
            wake = self._next_wake()
            self.woken = False
            timeout = max(wake - workflow.now(), timedelta(0)) if wake else None
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self.woken, timeout=timeout)
            async with self.lock:
                renewed = await self._due()
            if renewed or workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                state.timeline_seq = self.timeline.seq
                workflow.continue_as_new(dataclasses.replace(start, state=state))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.view()

    async def _enroll(self, start: ServicePlanStart) -> None:
        now = workflow.now()
        self.state = PlanState(
            status=P.WAITING_PERIOD,
            enrolled_at=now,
            term_start=now,
            term_number=1,
            terms=start.terms,
            payment_method=start.payment_method,
            customer=start.customer,
        )
        self.unrecordable = await record_new_case(
            NewCase(
                case_id=start.plan_id,
                org_id=start.org_id,
                case_type="service_plan",
                workflow_id=workflow.info().workflow_id,
                status=P.WAITING_PERIOD.value,
                tracking_token=start.tracking_token,
                customer=start.customer,
                created_at=now,
                currency=start.policy.currency,
                items=[
                    CaseItemRecord(
                        sku=start.sku,
                        serial=start.serial,
                        quantity=1,
                        unit_price=start.unit_price,
                        reason="service_plan",
                    )
                ],
                data={"customer_first_name": start.customer.first_name, **self._data()},
                timeline=[
                    self.timeline.entry(
                        P.WAITING_PERIOD,
                        "enrolled",
                        Actor("retailer", start.org_id),
                        {"plan": start.terms.code},
                    )
                ],
            ),
        )
        if self.unrecordable is not None:
            return
        try:
            await self._charge(0)
        except _Declined:
            await self._transition(P.REJECTED, "rejected", {"reason": "first_charge_declined"})
            self.recorded = True
            return
        if start.terms.waiting_period <= timedelta(0):
            await self._activate("Activation")
        self.recorded = True

    async def _due(self) -> bool:
        """Everything whose time has come, in order. True when a new term has begun."""
        state = self._state()
        start = self._start()
        now = workflow.now()
        if state.status in TERMINAL_PLAN_STATUSES:
            return False
        if (
            state.status is P.WAITING_PERIOD
            and now >= state.enrolled_at + state.terms.waiting_period
        ):
            await self._activate("Activation")
        end = term_end(state.term_start, state.terms)
        if not state.renewal_notice_sent and now >= renewal_notice_at(
            state.term_start, state.terms
        ):
            state.renewal_notice_sent = True
            await self._transition(
                state.status,
                "renewal_upcoming",
                {
                    "term_ends_at": end.isoformat(),
                    "auto_renew": str(state.terms.auto_renew).lower(),
                },
            )
        await self._bill(now)
        if state.status is P.PAST_DUE and state.failed_charge_at is not None:
            if now >= state.failed_charge_at + start.policy.grace_period:
                await self._transition(P.SUSPENDED, "suspended", {"reason": "payment_overdue"})
            elif state.dunning_step < len(start.policy.dunning) and now >= (
                state.failed_charge_at + start.policy.dunning[state.dunning_step]
            ):
                state.dunning_step += 1
                await self._retry_failed_charge("dunning_retry")
        if now >= end:
            return await self._end_term(end)
        return False

    async def _bill(self, now: datetime) -> None:
        """Charge every period that has begun, unless a charge is already overdue."""
        state = self._state()
        dates = charge_dates(state.term_start, state.terms)
        while (
            state.next_charge < len(dates)
            and dates[state.next_charge] <= now
            and state.status in (P.ACTIVE, P.WAITING_PERIOD)
        ):
            try:
                await self._charge(state.next_charge)
            except _Declined:
                state.failed_charge_at = now
                state.dunning_step = 0
                await self._transition(
                    P.PAST_DUE, "charge_failed", {"period": str(state.next_charge + 1)}
                )
                return

    async def _retry_failed_charge(self, event: str) -> None:
        state = self._state()
        try:
            await self._charge(state.next_charge)
        except _Declined:
            await self._transition(state.status, f"{event}_failed", {})
            return
        state.failed_charge_at = None
        state.dunning_step = 0
        if workflow.now() < state.enrolled_at + state.terms.waiting_period:
            # Paid up, but the waiting period still runs: cover starts when it ends.
            await self._transition(P.WAITING_PERIOD, "reactivated", {"via": event})
        elif state.certificates == 0:
            await self._activate("Activation")  # first cover: with its certificate
        else:
            await self._transition(P.ACTIVE, "reactivated", {"via": event})
        await self._bill(workflow.now())

    async def _charge(self, index: int) -> None:
        """Charge period `index` of the current term (one ledger row per period, whatever the
        attempts); on success it is paid and the next period is due."""
        state = self._state()
        dates = charge_dates(state.term_start, state.terms)
        bounds = [*dates, term_end(state.term_start, state.terms)]
        key = step_key(
            f"plan:{self._start().plan_id}", f"term-{state.term_number}/charge-{index + 1}"
        )
        await self._pay(PaymentKind.CHARGE, key, state.terms.price)
        state.charges.append(Charge(state.terms.price, bounds[index], bounds[index + 1]))
        state.next_charge = index + 1
        await self._transition(
            state.status,
            "charged",
            {
                "amount": f"{state.terms.price:.2f}",
                "currency": self._start().policy.currency,
                "period": str(index + 1),
            },
        )

    async def _end_term(self, end: datetime) -> bool:
        state = self._state()
        start = self._start()
        if not (state.terms.auto_renew and state.status in (P.ACTIVE, P.WAITING_PERIOD)):
            await self._transition(P.EXPIRED, "expired", {"term_ended_at": end.isoformat()})
            return False
        current = await workflow.execute_local_activity_method(
            StoreActivities.current_plan_terms,
            PlanTermsRequest(org_id=start.org_id, code=state.terms.code),
            start_to_close_timeout=QUICK_TIMEOUT,
            retry_policy=QUICK_RETRY,
        )
        state.terms = current.terms or state.terms
        state.term_start = end
        state.term_number += 1
        state.charges = []
        state.next_charge = 0
        state.renewal_notice_sent = False
        await self._transition(
            P.ACTIVE,
            "renewed",
            {"term": str(state.term_number), "price": f"{state.terms.price:.2f}"},
        )
        await self._certificate("Renewal")
        return True

    async def _activate(self, reason: str) -> None:
        await self._transition(P.ACTIVE, "activated", {})
        await self._certificate(reason)

    # ---------------------------------------------------------------- messages

    @workflow.update(name=PLAN_ACCEPT_UPDATE)
    async def accept(self) -> PlanView:
        await workflow.wait_condition(lambda: self.recorded or self.unrecordable is not None)
        if self.unrecordable is not None:
            raise unrecordable(self.unrecordable)
        return self.view()

    @workflow.update(name=CLAIM_UPDATE)
    async def claim(self, request: ClaimRequest) -> ClaimAnswer:
        async with self.lock:
            applied, first = self._applied_before()
            if applied and first is not None:
                return first
            answer = await self._claim(request)
            self._remember_command(answer)
            return answer

    @claim.validator
    def _validate_claim(self, request: ClaimRequest) -> None:
        self._require_open("claim")

    @workflow.update(name=PAYMENT_METHOD_UPDATE)
    async def change_payment_method(self, change: PaymentMethodChange) -> PlanView:
        async with self.lock:
            if self._applied_before()[0]:
                return self.view()
            self._remember_command()
            state = self._state()
            state.payment_method = change.payment_method
            await self._transition(state.status, "payment_method_changed", {})
            if state.status in (P.PAST_DUE, P.SUSPENDED):
                await self._retry_failed_charge("new_payment_method")
            self.woken = True  # the billing calendar may have moved
            return self.view()

    @change_payment_method.validator
    def _validate_payment_method(self, change: PaymentMethodChange) -> None:
        self._require_open("change_payment_method")

    @workflow.update(name=PLAN_CANCEL_UPDATE)
    async def cancel(self, request: PlanCancel) -> CancelAnswer:
        async with self.lock:
            state = self._state()
            now = workflow.now()
            refund = cancellation_refund(
                now=now,
                enrolled_at=state.enrolled_at,
                terms=state.terms,
                charges=state.charges,
                any_approved_claim=state.any_approved_claim,
            )
            if refund > 0:
                key = step_key(f"plan:{self._start().plan_id}", "cancel-refund")
                await self._pay(PaymentKind.REFUND, key, refund, retry_declined=True)
            detail = {"refund": f"{refund:.2f}", "currency": self._start().policy.currency}
            if request.reason:
                detail["reason"] = request.reason
            await self._transition(P.CANCELLED, "cancelled", detail)
            self.woken = True
            return CancelAnswer(refund=refund, status=state.status)

    @cancel.validator
    def _validate_cancel(self, request: PlanCancel) -> None:
        self._require_open("cancel")

    @workflow.update(name=TRANSFER_UPDATE)
    async def transfer(self, request: PlanTransfer) -> PlanView:
        async with self.lock:
            if self._applied_before()[0]:
                return self.view()
            self._remember_command()
            state = self._state()
            state.customer = request.customer
            # The previous owner keeps no way into the plan: its tracking link ends here, and
            # the new owner's emails carry the new one. Before the patch a transfer kept it.
            token = ""
            if request.tracking_token and workflow.patched(TRANSFER_TOKEN_PATCH):
                token = request.tracking_token
                # Kept in the start, so a continued-as-new run tracks with the new token.
                self._start().tracking_token = token
            await workflow.execute_local_activity_method(
                StoreActivities.replace_customer,
                CustomerChange(
                    case_id=self._start().plan_id, customer=request.customer, tracking_token=token
                ),
                start_to_close_timeout=QUICK_TIMEOUT,
                retry_policy=QUICK_RETRY,
            )
            await self._transition(state.status, "transferred", {})
            await self._certificate("Transfer")
            return self.view()

    @transfer.validator
    def _validate_transfer(self, request: PlanTransfer) -> None:
        self._require_open("transfer")

    @workflow.signal(name=ASSET_MOVED_SIGNAL)
    async def asset_moved(self, moved: AssetMoved) -> None:
        """A relocation moved the covered unit: the plan follows it to its new site."""
        await workflow.wait_condition(lambda: self.recorded)
        async with self.lock:
            state = self._state()
            if state.status in TERMINAL_PLAN_STATUSES:
                return
            state.unit_site = moved.site
            await self._transition(
                state.status,
                "asset_relocated",
                {"relocation_id": moved.relocation_id},
                links={"relocation_id": moved.relocation_id},
            )

    @workflow.query
    def current(self) -> PlanView:
        return self.view()

    def _applied_before(self) -> tuple[bool, ClaimAnswer | None]:
        """Whether an earlier run of this plan applied the running update (same update
        id: a command retried with its Idempotency-Key), and the claim's answer then. Within
        one run Temporal dedupes update ids itself, so only a continued plan gets here."""
        update = workflow.current_update_info()
        applied = self._state().applied_commands
        if update is None or update.id not in applied:
            return False, None
        if not workflow.patched(COMMAND_DEDUPE_PATCH):
            return False, None
        return True, applied[update.id]

    def _remember_command(self, answer: ClaimAnswer | None = None) -> None:
        update = workflow.current_update_info()
        if update is None:
            return
        applied = self._state().applied_commands
        applied[update.id] = answer
        while len(applied) > REMEMBERED_COMMANDS:
            del applied[next(iter(applied))]  # the oldest: retries come soon after

    async def _claim(self, request: ClaimRequest) -> ClaimAnswer:
        state = self._state()
        start = self._start()
        now = workflow.now()
        number = len(state.claims) + 1
        refusal = claim_refusal(
            status=state.status,
            now=now,
            enrolled_at=state.enrolled_at,
            terms=state.terms,
            incident=request.incident,
            approved_claims_at=state.approved_claims_at,
        )
        deductible = state.terms.deductibles.get(request.type, Decimal(0))
        if refusal is None and deductible > 0:
            key = step_key(f"plan:{start.plan_id}", f"claim-{number}/deductible")
            try:
                await self._pay(PaymentKind.DEDUCTIBLE, key, deductible)
            except _Declined:
                refusal = ClaimRefusal.DEDUCTIBLE_PAYMENT_FAILED
        record = ClaimRecord(number, now, request.type, request.incident, "refused")
        state.claims.append(record)
        if refusal is not None:
            record.reason = refusal.value
            await self._transition(
                state.status, "claim_refused", {"claim": str(number), "reason": refusal.value}
            )
            return ClaimAnswer(decision="refused", reason=refusal)
        record.decision = "approved"
        state.approved_claims_at.append(now)
        state.any_approved_claim = True
        record.case_id = await self._start_claim_case(request, number)
        link = "repair_id" if request.type is ClaimType.REPAIR else "replacement_id"
        await self._transition(
            state.status,
            "claim_approved",
            {"claim": str(number), link: record.case_id, "deductible": f"{deductible:.2f}"},
            links={link: record.case_id},
        )
        if request.type is ClaimType.REPAIR:
            return ClaimAnswer(decision="approved", repair_id=record.case_id)
        return ClaimAnswer(decision="approved", replacement_id=record.case_id)

    async def _start_claim_case(self, request: ClaimRequest, number: int) -> str:
        state = self._state()
        start = self._start()
        _, rest = start.plan_id.split("-", 1)
        token = request.child_tracking_token or f"{start.tracking_token}c{number}"
        # The unit is collected from, and comes back to, where it stands now.
        holder = (
            dataclasses.replace(state.customer, address=state.unit_site)
            if state.unit_site is not None
            else state.customer
        )
        if request.type is ClaimType.REPAIR:
            repair_id = f"REP-{rest}-C{number}"
            await workflow.start_child_workflow(
                REPAIR_WORKFLOW,
                RepairStart(
                    repair_id=repair_id,
                    org_id=start.org_id,
                    org_name=start.org_name,
                    tracking_token=token,
                    unit=RepairUnit(
                        sku=start.sku,
                        serial=start.serial,
                        product_name=start.product_name,
                        category=start.category,
                        unit_price=start.unit_price,
                    ),
                    fault=f"{request.incident}: {request.description}".strip(": "),
                    customer=holder,
                    coverage=RepairCoverage.SERVICE_PLAN,
                    policy=start.policy,
                    public_base_url=start.public_base_url,
                    unit_origin=holder.address,
                ),
                id=repair_workflow_id(repair_id),
                parent_close_policy=ParentClosePolicy.ABANDON,
                task_timeout=WORKFLOW_TASK_TIMEOUT,
            )
            return repair_id
        replacement_id = f"RPL-{rest}-C{number}"
        await workflow.start_child_workflow(
            REPLACEMENT_WORKFLOW,
            ReplacementStart(
                replacement_id=replacement_id,
                org_id=start.org_id,
                org_name=start.org_name,
                tracking_token=token,
                mode=ReplacementMode.STANDARD,
                sku=start.sku,
                serial=start.serial,
                replacement_sku=start.sku,
                replacement_name=start.product_name,
                unit_price=start.unit_price,
                customer=holder,
                payment_method=state.payment_method,
                policy=start.policy,
                public_base_url=start.public_base_url,
            ),
            id=replacement_workflow_id(replacement_id),
            parent_close_policy=ParentClosePolicy.ABANDON,
            task_timeout=WORKFLOW_TASK_TIMEOUT,
        )
        return replacement_id

    # ------------------------------------------------------------------ helpers

    async def _pay(
        self, kind: PaymentKind, key: str, amount: Decimal, retry_declined: bool = False
    ) -> None:
        start = self._start()
        try:
            await workflow.execute_activity_method(
                PaymentActivities.execute_payment,
                PaymentRequest(
                    idempotency_key=key,
                    org_id=start.org_id,
                    case_id=start.plan_id,
                    kind=kind,
                    amount=amount,
                    currency=start.policy.currency,
                    payment_method=self._state().payment_method,
                ),
                start_to_close_timeout=EXTERNAL_TIMEOUT,
                retry_policy=EXTERNAL_RETRY,
            )
        except ActivityError as error:
            cause = error.cause
            if isinstance(cause, ApplicationError) and cause.type == "PaymentDeclined":
                raise _Declined from error
            raise

    async def _certificate(self, issued_for: str) -> None:
        state = self._state()
        start = self._start()
        state.certificates += 1
        end = term_end(state.term_start, state.terms)
        currency = start.policy.currency
        await workflow.execute_local_activity_method(
            DocumentActivities.render_coverage_certificate,
            CoverageCertificateRequest(
                idempotency_key=step_key(
                    workflow.info().workflow_id, f"coverage-certificate-{state.certificates}"
                ),
                org_id=start.org_id,
                case_id=start.plan_id,
                public_base_url=start.public_base_url,
                certificate=CoverageCertificateData(
                    certificate_number=f"CC-{start.plan_id.split('-', 1)[1]}-{state.certificates}",
                    plan_number=start.plan_id,
                    retailer_name=start.org_name,
                    plan_name=state.terms.name,
                    plan_code=state.terms.code,
                    owner_name=state.customer.name,
                    product_name=start.product_name,
                    sku=start.sku,
                    serial=start.serial,
                    term_starts_on=_long_date(state.term_start),
                    term_ends_on=_long_date(end),
                    claim_limit=f"{state.terms.claim_limit} claims per 12 months",
                    deductibles=[
                        (kind.value.capitalize(), f"{amount:.2f} {currency}")
                        for kind, amount in sorted(state.terms.deductibles.items())
                    ],
                    incidents=sorted(i.replace("_", " ") for i in state.terms.incidents),
                    issued_for=issued_for,
                    verification_code="",
                    verify_url="",
                ),
            ),
            start_to_close_timeout=RENDER_TIMEOUT,
            retry_policy=QUICK_RETRY,
        )

    def _next_wake(self) -> datetime | None:
        state = self._state()
        start = self._start()
        moments: list[datetime] = [term_end(state.term_start, state.terms)]
        if state.status is P.WAITING_PERIOD:
            moments.append(state.enrolled_at + state.terms.waiting_period)
        if not state.renewal_notice_sent:
            moments.append(renewal_notice_at(state.term_start, state.terms))
        dates = charge_dates(state.term_start, state.terms)
        if state.next_charge < len(dates) and state.status in (P.ACTIVE, P.WAITING_PERIOD):
            moments.append(dates[state.next_charge])
        if state.status is P.PAST_DUE and state.failed_charge_at is not None:
            moments.append(state.failed_charge_at + start.policy.grace_period)
            if state.dunning_step < len(start.policy.dunning):
                moments.append(state.failed_charge_at + start.policy.dunning[state.dunning_step])
        return min(moments)

    def view(self) -> PlanView:
        state = self._state()
        dates = charge_dates(state.term_start, state.terms)
        next_at = dates[state.next_charge] if state.next_charge < len(dates) else None
        year_ago = add_months(workflow.now(), -12)
        window = [at for at in state.approved_claims_at if at > year_ago]
        return PlanView(
            plan_id=self._start().plan_id,
            status=state.status,
            term_ends_at=term_end(state.term_start, state.terms),
            next_charge_at=None if state.status in TERMINAL_PLAN_STATUSES else next_at,
            claims_used=len(window),
        )

    def _state(self) -> PlanState:
        assert self.state is not None
        return self.state

    def _start(self) -> ServicePlanStart:
        assert self.start is not None
        return self.start

    def _require_open(self, action: str) -> None:
        state = self.state
        if not self.recorded or state is None or state.status in TERMINAL_PLAN_STATUSES:
            status = state.status.value if state else P.WAITING_PERIOD.value
            raise invalid_transition(action, status, ())

    def _data(self) -> dict[str, Any]:
        state = self._state()
        view = self.view()
        return {
            "plan_code": state.terms.code,
            "plan_name": state.terms.name,
            "serial": self._start().serial,
            "sku": self._start().sku,
            "term_number": state.term_number,
            "term_starts_at": state.term_start.isoformat(),
            "term_ends_at": view.term_ends_at.isoformat() if view.term_ends_at else None,
            "next_charge_at": view.next_charge_at.isoformat() if view.next_charge_at else None,
            "claims_used": view.claims_used,
            "claims": [
                {
                    "number": c.number,
                    "at": c.at.isoformat(),
                    "type": c.type.value,
                    "incident": c.incident,
                    "decision": c.decision,
                    "reason": c.reason,
                    "case_id": c.case_id,
                }
                for c in state.claims
            ],
            "owner": state.customer.name,
            **({"unit_site": state.unit_site.to_json()} if state.unit_site else {}),
        }

    async def _transition(
        self,
        status: PlanStatus,
        event: str,
        detail: dict[str, str],
        links: dict[str, str] | None = None,
    ) -> None:
        self._state().status = status
        await self.timeline.project(status, event, SYSTEM, detail, data=self._data(), links=links)


def _long_date(moment: datetime) -> str:
    return f"{moment.day} {moment:%B %Y}"
