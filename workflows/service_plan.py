"""The service-plan workflow (lifecycles.md §5): one long-lived workflow per plan, billing on
durable timers, dunning, suspension, claims that start repairs and replacements, renewal,
cancellation with proration, transfer. It continues as new at each term and whenever
Temporal suggests it, carrying `PlanState` forward.

One main loop owns every change: billing when its time comes, and the commands (updates,
and a relocation's `asset_moved` signal) handed over in one `CommandSlot`, one at a time, so
a claim never interleaves with a charge. Commands queue rather than being refused: a plan
takes whatever comes, in turn.

Plans started before `COMMANDS_IN_LOOP_PATCH` applied each command in its handler, taking
turns with the billing loop under a lock (samples-python `safe_message_handlers`); their
histories replay on that path, which applies the same `_apply`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from datetime import datetime, timedelta
from decimal import Decimal

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.stubs import DocumentActivities, PaymentActivities, StoreActivities
    from domain.common import Actor, CaseKind
    from domain.contracts.documents import CoverageCertificateRequest
    from domain.contracts.events import CaseEvent
    from domain.contracts.facts import ServicePlanFacts
    from domain.contracts.payments import PaymentKind, PaymentRequest
    from domain.contracts.starts import claim_holder, repair_for_claim, replacement_for_claim
    from domain.contracts.store import CustomerChange, PlanTermsRequest
    from domain.durations import add_months
    from domain.ids import step_key
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
        coverage_certificate,
        next_wake,
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
    from workflows.children import start_repair, start_replacement
    from workflows.commands import CommandSlot
    from workflows.recording import CaseRecord, new_case, one_unit
    from workflows.timeline import Timeline

P = PlanStatus
# Before this patch a continued plan applied a retried command again.
COMMAND_DEDUPE_PATCH = "plan-command-dedupe-across-runs"
REMEMBERED_COMMANDS = 50
TRANSFER_TOKEN_PATCH = "transfer-new-tracking-token"
# Before this patch each handler applied its command itself, under a lock.
COMMANDS_IN_LOOP_PATCH = "plan-commands-in-main-loop"

PlanCommand = ClaimRequest | PaymentMethodChange | PlanCancel | PlanTransfer | AssetMoved


@dataclasses.dataclass
class Handed:
    """A command and the update that carried it (None for the signal): its id is what a
    continued plan remembers, and only the handler can read it."""

    command: PlanCommand
    update_id: str | None


class _Declined(Exception):
    pass


@workflow.defn(name=SERVICE_PLAN_WORKFLOW)
class ServicePlanWorkflow:
    def __init__(self) -> None:
        self.start: ServicePlanStart | None = None
        self.state: PlanState | None = None
        self.timeline = Timeline("")
        self.case = CaseRecord()
        self.commands: CommandSlot[Handed, ClaimAnswer | CancelAnswer | None] = CommandSlot()
        # Only plans replaying from before COMMANDS_IN_LOOP_PATCH take it (and set `woken`).
        self.lock = asyncio.Lock()
        self.woken = False

    # ----------------------------------------------------------------- main loop

    @workflow.run
    async def run(self, start: ServicePlanStart) -> PlanView:
        self.start = start
        self.timeline = Timeline(start.plan_id)
        if start.state is None:
            await self._enroll(start)
            await self.case.fail_if_refused()
        else:
            self.state = start.state
            self.timeline.seq = start.state.timeline_seq
            self.case.open()
        state = self._state()
        while state.status not in TERMINAL_PLAN_STATUSES:
            wake = next_wake(state, start.policy)
            self.woken = False
            timeout = max(wake - workflow.now(), timedelta(0)) if wake else None
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self.woken or not self.commands.empty, timeout=timeout
                )
            if not self.commands.empty:
                await self.commands.apply(self._apply)
            async with self.lock:
                renewed = await self._due()
            if renewed or workflow.info().is_continue_as_new_suggested():
                await self._finish_commands()
                state.timeline_seq = self.timeline.seq
                workflow.continue_as_new(dataclasses.replace(start, state=state))
        await self._finish_commands()
        return self.view()

    async def _finish_commands(self) -> None:
        """Apply what is still handed over (a claim accepted as the plan ended is answered
        as the plan now stands) until every handler is done."""
        while not workflow.all_handlers_finished():
            await workflow.wait_condition(
                lambda: not self.commands.empty or workflow.all_handlers_finished()
            )
            if not self.commands.empty:
                await self.commands.apply(self._apply)

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
        recorded = await self.case.record(
            new_case(
                case_type=CaseKind.SERVICE_PLAN,
                case_id=start.plan_id,
                org_id=start.org_id,
                status=P.WAITING_PERIOD,
                tracking_token=start.tracking_token,
                customer=start.customer,
                currency=start.policy.currency,
                created_at=now,
                items=one_unit(start.sku, start.serial, start.unit_price, "service_plan"),
                data=self._facts().to_data(),
                timeline=[
                    self.timeline.entry(
                        P.WAITING_PERIOD,
                        CaseEvent.ENROLLED,
                        Actor.retailer(start.org_id),
                        {"plan": start.terms.code},
                    )
                ],
            ),
            open_now=False,
        )
        if not recorded:
            return
        try:
            await self._charge(0)
        except _Declined:
            await self._transition(
                P.REJECTED, CaseEvent.REJECTED, {"reason": "first_charge_declined"}
            )
            self.case.open()
            return
        if start.terms.waiting_period <= timedelta(0):
            await self._activate("Activation")
        self.case.open()

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
                CaseEvent.RENEWAL_UPCOMING,
                {
                    "term_ends_at": end.isoformat(),
                    "auto_renew": str(state.terms.auto_renew).lower(),
                },
            )
        await self._bill(now)
        if state.status is P.PAST_DUE and state.failed_charge_at is not None:
            if now >= state.failed_charge_at + start.policy.grace_period:
                await self._transition(
                    P.SUSPENDED, CaseEvent.SUSPENDED, {"reason": "payment_overdue"}
                )
            elif state.dunning_step < len(start.policy.dunning) and now >= (
                state.failed_charge_at + start.policy.dunning[state.dunning_step]
            ):
                state.dunning_step += 1
                await self._retry_failed_charge("dunning_retry", CaseEvent.DUNNING_RETRY_FAILED)
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
                    P.PAST_DUE, CaseEvent.CHARGE_FAILED, {"period": str(state.next_charge + 1)}
                )
                return

    async def _retry_failed_charge(self, via: str, failed: CaseEvent) -> None:
        state = self._state()
        try:
            await self._charge(state.next_charge)
        except _Declined:
            await self._transition(state.status, failed, {})
            return
        state.failed_charge_at = None
        state.dunning_step = 0
        if workflow.now() < state.enrolled_at + state.terms.waiting_period:
            # Paid up, but the waiting period still runs: cover starts when it ends.
            await self._transition(P.WAITING_PERIOD, CaseEvent.REACTIVATED, {"via": via})
        elif state.certificates == 0:
            await self._activate("Activation")  # first cover: with its certificate
        else:
            await self._transition(P.ACTIVE, CaseEvent.REACTIVATED, {"via": via})
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
            CaseEvent.CHARGED,
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
            await self._transition(P.EXPIRED, CaseEvent.EXPIRED, {"term_ended_at": end.isoformat()})
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
            CaseEvent.RENEWED,
            {"term": str(state.term_number), "price": f"{state.terms.price:.2f}"},
        )
        await self._certificate("Renewal")
        return True

    async def _activate(self, reason: str) -> None:
        await self._transition(P.ACTIVE, CaseEvent.ACTIVATED, {})
        await self._certificate(reason)

    # ------------------------------------------------------------------ commands

    async def _apply(self, handed: Handed) -> ClaimAnswer | CancelAnswer | None:
        state = self._state()
        match handed.command:
            case ClaimRequest() as request:
                applied, first = self._applied_before(handed.update_id)
                if applied and first is not None:
                    return first
                answer = await self._claim(request)
                self._remember(handed.update_id, answer)
                return answer
            case PaymentMethodChange() as change:
                if self._applied_before(handed.update_id)[0]:
                    return None
                self._remember(handed.update_id)
                state.payment_method = change.payment_method
                await self._transition(state.status, CaseEvent.PAYMENT_METHOD_CHANGED, {})
                if state.status in (P.PAST_DUE, P.SUSPENDED):
                    await self._retry_failed_charge(
                        "new_payment_method", CaseEvent.NEW_PAYMENT_METHOD_FAILED
                    )
                self.woken = True  # the billing calendar may have moved
                return None
            case PlanCancel() as request:
                return await self._cancel(request)
            case PlanTransfer() as request:
                if self._applied_before(handed.update_id)[0]:
                    return None
                self._remember(handed.update_id)
                await self._transfer(request)
                return None
            case AssetMoved() as moved:
                if state.status not in TERMINAL_PLAN_STATUSES:
                    state.unit_site = moved.site
                    await self._transition(
                        state.status,
                        CaseEvent.ASSET_RELOCATED,
                        {"relocation_id": moved.relocation_id},
                        links={"relocation_id": moved.relocation_id},
                    )
                return None

    def _applied_before(self, update_id: str | None) -> tuple[bool, ClaimAnswer | None]:
        """Whether an earlier run of this plan applied this update (same update id: a
        command retried with its Idempotency-Key), and the claim's answer then. Within one
        run Temporal dedupes update ids itself, so only a continued plan gets here."""
        applied = self._state().applied_commands
        if update_id is None or update_id not in applied:
            return False, None
        if not workflow.patched(COMMAND_DEDUPE_PATCH):
            return False, None
        return True, applied[update_id]

    def _remember(self, update_id: str | None, answer: ClaimAnswer | None = None) -> None:
        if update_id is None:
            return
        applied = self._state().applied_commands
        applied[update_id] = answer
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
                state.status,
                CaseEvent.CLAIM_REFUSED,
                {"claim": str(number), "reason": refusal.value},
            )
            return ClaimAnswer(decision="refused", reason=refusal)
        record.decision = "approved"
        state.approved_claims_at.append(now)
        state.any_approved_claim = True
        # The unit is collected from, and comes back to, where it stands now.
        holder = claim_holder(state.customer, state.unit_site)
        if request.type is ClaimType.REPAIR:
            repair = repair_for_claim(start, request, number, holder)
            await start_repair(repair)
            record.case_id, link = repair.repair_id, "repair_id"
        else:
            replacement = replacement_for_claim(
                start, request, number, holder, state.payment_method
            )
            await start_replacement(replacement)
            record.case_id, link = replacement.replacement_id, "replacement_id"
        await self._transition(
            state.status,
            CaseEvent.CLAIM_APPROVED,
            {"claim": str(number), link: record.case_id, "deductible": f"{deductible:.2f}"},
            links={link: record.case_id},
        )
        if request.type is ClaimType.REPAIR:
            return ClaimAnswer(decision="approved", repair_id=record.case_id)
        return ClaimAnswer(decision="approved", replacement_id=record.case_id)

    async def _cancel(self, request: PlanCancel) -> CancelAnswer:
        state = self._state()
        refund = cancellation_refund(
            now=workflow.now(),
            enrolled_at=state.enrolled_at,
            terms=state.terms,
            charges=state.charges,
            any_approved_claim=state.any_approved_claim,
        )
        if refund > 0:
            key = step_key(f"plan:{self._start().plan_id}", "cancel-refund")
            await self._pay(PaymentKind.REFUND, key, refund)
        detail = {"refund": f"{refund:.2f}", "currency": self._start().policy.currency}
        if request.reason:
            detail["reason"] = request.reason
        await self._transition(P.CANCELLED, CaseEvent.CANCELLED, detail)
        self.woken = True
        return CancelAnswer(refund=refund, status=state.status)

    async def _transfer(self, request: PlanTransfer) -> None:
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
        await self._transition(state.status, CaseEvent.TRANSFERRED, {})
        await self._certificate("Transfer")

    # ---------------------------------------------------------------- messages

    @workflow.update(name=PLAN_ACCEPT_UPDATE)
    async def accept(self) -> PlanView:
        await self.case.first_answer()
        return self.view()

    @workflow.update(name=CLAIM_UPDATE)
    async def claim(self, request: ClaimRequest) -> ClaimAnswer:
        answer = await self._hand_over(request)
        assert isinstance(answer, ClaimAnswer)
        return answer

    @claim.validator
    def _validate_claim(self, request: ClaimRequest) -> None:
        self._require_open("claim")

    @workflow.update(name=PAYMENT_METHOD_UPDATE)
    async def change_payment_method(self, change: PaymentMethodChange) -> PlanView:
        await self._hand_over(change)
        return self.view()

    @change_payment_method.validator
    def _validate_payment_method(self, change: PaymentMethodChange) -> None:
        self._require_open("change_payment_method")

    @workflow.update(name=PLAN_CANCEL_UPDATE)
    async def cancel(self, request: PlanCancel) -> CancelAnswer:
        answer = await self._hand_over(request)
        assert isinstance(answer, CancelAnswer)
        return answer

    @cancel.validator
    def _validate_cancel(self, request: PlanCancel) -> None:
        self._require_open("cancel")

    @workflow.update(name=TRANSFER_UPDATE)
    async def transfer(self, request: PlanTransfer) -> PlanView:
        await self._hand_over(request)
        return self.view()

    @transfer.validator
    def _validate_transfer(self, request: PlanTransfer) -> None:
        self._require_open("transfer")

    @workflow.signal(name=ASSET_MOVED_SIGNAL)
    async def asset_moved(self, moved: AssetMoved) -> None:
        """A relocation moved the covered unit: the plan follows it to its new site."""
        await workflow.wait_condition(lambda: self.case.recorded)
        await self._hand_over(moved)

    async def _hand_over(self, command: PlanCommand) -> ClaimAnswer | CancelAnswer | None:
        update = workflow.current_update_info()
        handed = Handed(command, update.id if update else None)
        if not workflow.patched(COMMANDS_IN_LOOP_PATCH):
            async with self.lock:
                return await self._apply(handed)
        return await self.commands.hand_over_in_turn(handed)

    @workflow.query
    def current(self) -> PlanView:
        return self.view()

    # ------------------------------------------------------------------ helpers

    async def _pay(self, kind: PaymentKind, key: str, amount: Decimal) -> None:
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
        await workflow.execute_local_activity_method(
            DocumentActivities.render_coverage_certificate,
            CoverageCertificateRequest(
                idempotency_key=step_key(
                    workflow.info().workflow_id, f"coverage-certificate-{state.certificates}"
                ),
                org_id=start.org_id,
                case_id=start.plan_id,
                public_base_url=start.public_base_url,
                certificate=coverage_certificate(start, state, issued_for),
            ),
            start_to_close_timeout=RENDER_TIMEOUT,
            retry_policy=QUICK_RETRY,
        )

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
        if not self.case.recorded or state is None or state.status in TERMINAL_PLAN_STATUSES:
            status = state.status.value if state else P.WAITING_PERIOD.value
            raise invalid_transition(action, status, ())

    def _facts(self) -> ServicePlanFacts:
        state = self._state()
        start = self._start()
        view = self.view()
        return ServicePlanFacts(
            plan_code=state.terms.code,
            plan_name=state.terms.name,
            serial=start.serial,
            sku=start.sku,
            term_number=state.term_number,
            term_starts_at=state.term_start,
            term_ends_at=view.term_ends_at,
            next_charge_at=view.next_charge_at,
            claims_used=view.claims_used,
            claims=tuple(state.claims),
            owner=state.customer.name,
            unit_site=state.unit_site,
        )

    async def _transition(
        self,
        status: PlanStatus,
        event: CaseEvent,
        detail: dict[str, str],
        links: dict[str, str] | None = None,
    ) -> None:
        self._state().status = status
        await self.timeline.project(
            status, event, Actor.system(), detail, data=self._facts().to_data(), links=links
        )
