"""The service-plan workflow (lifecycles.md §5): one long-lived workflow per plan, billing on
durable timers, dunning, suspension, claims that start repairs and replacements, renewal,
cancellation with proration, transfer. It continues as new at each term and whenever
Temporal suggests it, carrying `PlanState` forward.

One main loop owns every change: billing when its time comes, and the commands (updates,
and a relocation's `asset_moved` signal) handed over in one `CommandSlot`, one at a time, so
a claim never interleaves with a charge. Commands queue rather than being refused: a plan
takes whatever comes, in turn. The billing calendar and the claim rules are pure
(`domain.service_plan`): this module performs what they decide.

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
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.stubs import StoreActivities
    from domain import service_plan as plan
    from domain.common import CURRENT_QUERY, Actor, CaseKind
    from domain.contracts.events import CaseEvent as E
    from domain.contracts.facts import service_plan_facts
    from domain.contracts.payments import PAYMENT_EVENT_SIGNAL, PaymentEvent, PaymentKind
    from domain.contracts.starts import claim_holder, repair_for_claim, replacement_for_claim
    from domain.contracts.store import CustomerChange, PlanTermsRequest
    from domain.ids import step_key
    from domain.money import money_text
    from workflows.base import QUICK_RETRY, QUICK_TIMEOUT, invalid_transition
    from workflows.certificates import Certificates
    from workflows.children import start_repair, start_replacement
    from workflows.commands import CommandSlot
    from workflows.patches import (
        COMMAND_DEDUPE_PATCH,
        COMMANDS_IN_LOOP_PATCH,
        TRANSFER_TOKEN_PATCH,
        patched,
        rounding_currency,
    )
    from workflows.payments import CustomerAuthentication, PaymentAccount, pay_unless_declined
    from workflows.recording import CaseRecord, new_case, one_unit
    from workflows.timeline import Timeline

P = plan.PlanStatus


@workflow.defn(name=plan.SERVICE_PLAN_WORKFLOW)
class ServicePlanWorkflow:
    @workflow.init
    def __init__(self, start: plan.ServicePlanStart) -> None:
        self.start = start
        self.state = start.state or plan.PlanState.enrol(start, workflow.now())
        self.timeline = Timeline(start.plan_id)
        # A charge the customer must authenticate waits for them (3-D Secure).
        self.authentication = CustomerAuthentication(self.timeline, lambda: self.state.status)
        self.certificates = Certificates(start.org_id, start.plan_id, start.public_base_url)
        self.case = CaseRecord()
        self.commands: CommandSlot[plan.Handed, plan.PlanAnswer] = CommandSlot()
        # Only plans replaying from before COMMANDS_IN_LOOP_PATCH take it (and set `woken`).
        self.lock = asyncio.Lock()
        self.woken = False

    # ----------------------------------------------------------------- main loop

    @workflow.run
    async def run(self, start: plan.ServicePlanStart) -> plan.PlanView:
        state = self.state
        if start.state is None:
            await self._enroll(start)
            await self.case.fail_if_refused()
        else:
            self.timeline.seq = state.timeline_seq
            self.case.open()
        while state.status not in plan.TERMINAL_PLAN_STATUSES:
            wake = plan.next_wake(state, start.policy)
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
                await self.commands.apply_until_handlers_finished(self._apply)
                state.timeline_seq = self.timeline.seq
                workflow.continue_as_new(dataclasses.replace(start, state=state))
        await self.commands.apply_until_handlers_finished(self._apply)
        return self.view()

    async def _enroll(self, start: plan.ServicePlanStart) -> None:
        recorded = await self.case.record(
            new_case(
                start,
                CaseKind.SERVICE_PLAN,
                start.plan_id,
                status=P.WAITING_PERIOD,
                created_at=self.state.enrolled_at,
                items=one_unit(start.sku, start.serial, start.unit_price, "service_plan"),
                data=self._data(),
                timeline=[
                    self.timeline.entry(
                        P.WAITING_PERIOD,
                        E.ENROLLED,
                        Actor.retailer(start.org_id),
                        {"plan": start.terms.code},
                    )
                ],
            ),
            open_now=False,
        )
        if not recorded:
            return
        if not await self._charge():
            await self._transition(P.REJECTED, E.REJECTED, {"reason": "first_charge_declined"})
        elif start.terms.waiting_period <= timedelta(0):
            await self._activate("Activation")
        self.case.open()

    # ------------------------------------------------------------------ billing

    async def _due(self) -> bool:
        """Everything whose time has come, in order. True when a new term has begun."""
        state = self.state
        now = workflow.now()
        if state.status in plan.TERMINAL_PLAN_STATUSES:
            return False
        if state.status is P.WAITING_PERIOD and not state.waiting(now):
            await self._activate("Activation")
        if state.renewal_notice_due(now):
            notice = state.notice_renewal()
            await self._transition(state.status, E.RENEWAL_UPCOMING, notice)
        await self._bill(now)
        match state.overdue(self.start.policy, now):
            case plan.Overdue.SUSPEND:
                await self._transition(P.SUSPENDED, E.SUSPENDED, {"reason": "payment_overdue"})
            case plan.Overdue.RETRY:
                state.dunning_step += 1
                await self._retry_failed_charge("dunning_retry", E.DUNNING_RETRY_FAILED)
        if now >= state.term_ends_at:
            return await self._end_term()
        return False

    async def _bill(self, now: datetime) -> None:
        """Charge every period that has begun, unless a charge is already overdue."""
        state = self.state
        while state.charge_due(now):
            if not await self._charge():
                # Dunning counts from the failure: after the customer's day to authenticate
                # the charge, if it waited for them.
                state.charge_failed(self.authentication.since_wait(now))
                await self._transition(
                    P.PAST_DUE, E.CHARGE_FAILED, {"period": str(state.next_charge + 1)}
                )
                return

    async def _retry_failed_charge(self, via: str, failed: E) -> None:
        state = self.state
        if not await self._charge():
            await self._transition(state.status, failed, {})
            return
        state.paid_up()
        if state.waiting(workflow.now()):
            # Paid up, but the waiting period still runs: cover starts when it ends.
            await self._transition(P.WAITING_PERIOD, E.REACTIVATED, {"via": via})
        elif state.certificates == 0:
            await self._activate("Activation")  # first cover: with its certificate
        else:
            await self._transition(P.ACTIVE, E.REACTIVATED, {"via": via})
        await self._bill(workflow.now())

    async def _charge(self) -> bool:
        """Charge the term's next period; True once paid, False when the card is declined."""
        state = self.state
        price = state.terms.price
        if not await self._paid(PaymentKind.CHARGE, state.charge_key(self.start.plan_id), price):
            return False
        period = state.paid()
        charged = {"amount": self._money_text(price), "currency": self.start.policy.currency}
        await self._transition(state.status, E.CHARGED, {**charged, "period": str(period)})
        return True

    async def _end_term(self) -> bool:
        state = self.state
        if not (state.terms.auto_renew and state.status in plan.BILLING):
            ended = {"term_ended_at": state.term_ends_at.isoformat()}
            await self._transition(P.EXPIRED, E.EXPIRED, ended)
            return False
        current = await workflow.execute_local_activity_method(
            StoreActivities.current_plan_terms,
            PlanTermsRequest(org_id=self.start.org_id, code=state.terms.code),
            start_to_close_timeout=QUICK_TIMEOUT,
            retry_policy=QUICK_RETRY,
        )
        state.renew(current.terms or state.terms)
        await self._transition(
            P.ACTIVE,
            E.RENEWED,
            {"term": str(state.term_number), "price": self._money_text(state.terms.price)},
        )
        await self._certificate("Renewal")
        return True

    async def _activate(self, reason: str) -> None:
        await self._transition(P.ACTIVE, E.ACTIVATED, {})
        await self._certificate(reason)

    # ------------------------------------------------------------------ commands

    async def _apply(self, handed: plan.Handed) -> plan.PlanAnswer:
        state = self.state
        if state.answered(handed.update_id) and patched(COMMAND_DEDUPE_PATCH):
            assert handed.update_id is not None
            return state.applied_commands[handed.update_id]  # a retry: answered as then
        answer: plan.PlanAnswer = None
        match handed.command:
            case plan.ClaimRequest() as request:
                answer = await self._claim(request)
            case plan.PaymentMethodChange() as change:
                state.payment_method = change.payment_method
                await self._transition(
                    state.status, E.PAYMENT_METHOD_CHANGED, {}, actor=change.actor
                )
                if state.status in (P.PAST_DUE, P.SUSPENDED):
                    await self._retry_failed_charge(
                        "new_payment_method", E.NEW_PAYMENT_METHOD_FAILED
                    )
                self.woken = True  # the billing calendar may have moved
            case plan.PlanCancel() as request:
                answer = await self._cancel(request)
            case plan.PlanTransfer() as request:
                await self._transfer(request)
            case plan.AssetMoved() as moved:
                if state.status not in plan.TERMINAL_PLAN_STATUSES:
                    state.unit_site = moved.site
                    await self._transition(
                        state.status,
                        E.ASSET_RELOCATED,
                        {"relocation_id": moved.relocation_id},
                        links={"relocation_id": moved.relocation_id},
                    )
        state.remember(handed.update_id, answer if isinstance(answer, plan.ClaimAnswer) else None)
        return answer

    async def _claim(self, request: plan.ClaimRequest) -> plan.ClaimAnswer:
        state = self.state
        start = self.start
        claim = state.new_claim(request, workflow.now())
        deductible = state.terms.deductibles.get(request.type, Decimal(0))
        if claim.reason is None and deductible > 0:
            key = step_key(f"plan:{start.plan_id}", f"claim-{claim.number}/deductible")
            if not await self._paid(PaymentKind.DEDUCTIBLE, key, deductible):
                claim.reason = plan.ClaimRefusal.DEDUCTIBLE_PAYMENT_FAILED.value
        state.claims.append(claim)
        if claim.reason is not None:
            refused = {"claim": str(claim.number), "reason": claim.reason}
            await self._transition(state.status, E.CLAIM_REFUSED, refused, actor=request.actor)
            return claim.answer()
        state.approve(claim)
        # The unit is collected from, and comes back to, where it stands now.
        holder = claim_holder(state.customer, state.unit_site)
        if request.type is plan.ClaimType.REPAIR:
            repair = repair_for_claim(start, request, claim.number, holder)
            await start_repair(repair)
            case_id = repair.repair_id
        else:
            replacement = replacement_for_claim(
                start, request, claim.number, holder, state.payment_method
            )
            await start_replacement(replacement)
            case_id = replacement.replacement_id
        claim.case_id = case_id
        approved = {"claim": str(claim.number), claim.link: case_id}
        approved["deductible"] = self._money_text(deductible)
        links = {claim.link: case_id}
        await self._transition(state.status, E.CLAIM_APPROVED, approved, links, request.actor)
        return claim.answer()

    async def _cancel(self, request: plan.PlanCancel) -> plan.CancelAnswer:
        state = self.state
        # Floored to whole yen for a yen plan; it decides the refund activity (none under one
        # yen) and the update's answer, hence the patch (see `rounding_currency`).
        refund = state.refund_on_cancel(
            workflow.now(), rounding_currency(self.start.policy.currency)
        )
        key = step_key(f"plan:{self.start.plan_id}", "cancel-refund")
        if refund > 0 and not await self._paid(PaymentKind.REFUND, key, refund):
            # A refund is not the card's to refuse: the task fails until someone looks.
            raise RuntimeError(f"the refund of {self.start.plan_id} was declined")
        detail = {"refund": self._money_text(refund), "currency": self.start.policy.currency}
        if request.reason:
            detail["reason"] = request.reason
        await self._transition(P.CANCELLED, E.CANCELLED, detail, actor=request.actor)
        self.woken = True
        return plan.CancelAnswer(refund=refund, status=state.status)

    async def _transfer(self, request: plan.PlanTransfer) -> None:
        self.state.customer = request.customer
        # The previous owner keeps no way into the plan: its tracking link ends here, and
        # the new owner's emails carry the new one. Before the patch a transfer kept it.
        token = ""
        if request.tracking_token and patched(TRANSFER_TOKEN_PATCH):
            token = request.tracking_token
            # Kept in the start, so a continued-as-new run tracks with the new token.
            self.start.tracking_token = token
        await workflow.execute_local_activity_method(
            StoreActivities.replace_customer,
            CustomerChange(
                case_id=self.start.plan_id, customer=request.customer, tracking_token=token
            ),
            start_to_close_timeout=QUICK_TIMEOUT,
            retry_policy=QUICK_RETRY,
        )
        await self._transition(self.state.status, E.TRANSFERRED, {}, actor=request.actor)
        await self._certificate("Transfer")

    # ---------------------------------------------------------------- messages

    @workflow.update(name=plan.PLAN_ACCEPT_UPDATE)
    async def accept(self) -> plan.PlanView:
        # A first charge waiting for the customer's authentication answers at once: the
        # plan shows that wait, and ends `rejected` if it does not go through.
        await self.case.first_answer(
            lambda: self.case.recorded or self.authentication.awaiting is not None
        )
        return self.view()

    @workflow.update(name=plan.CLAIM_UPDATE)
    async def claim(self, request: plan.ClaimRequest) -> plan.ClaimAnswer:
        answer = await self._hand_over(request)
        assert isinstance(answer, plan.ClaimAnswer)
        return answer

    @claim.validator
    def _validate_claim(self, request: plan.ClaimRequest) -> None:
        self._require_open("claim")

    @workflow.update(name=plan.PAYMENT_METHOD_UPDATE)
    async def change_payment_method(self, change: plan.PaymentMethodChange) -> plan.PlanView:
        await self._hand_over(change)
        return self.view()

    @change_payment_method.validator
    def _validate_payment_method(self, change: plan.PaymentMethodChange) -> None:
        self._require_open("change_payment_method")

    @workflow.update(name=plan.PLAN_CANCEL_UPDATE)
    async def cancel(self, request: plan.PlanCancel) -> plan.CancelAnswer:
        answer = await self._hand_over(request)
        assert isinstance(answer, plan.CancelAnswer)
        return answer

    @cancel.validator
    def _validate_cancel(self, request: plan.PlanCancel) -> None:
        self._require_open("cancel")

    @workflow.update(name=plan.TRANSFER_UPDATE)
    async def transfer(self, request: plan.PlanTransfer) -> plan.PlanView:
        await self._hand_over(request)
        return self.view()

    @transfer.validator
    def _validate_transfer(self, request: plan.PlanTransfer) -> None:
        self._require_open("transfer")

    @workflow.signal(name=plan.ASSET_MOVED_SIGNAL)
    async def asset_moved(self, moved: plan.AssetMoved) -> None:
        """A relocation moved the covered unit: the plan follows it to its new site."""
        await workflow.wait_condition(lambda: self.case.recorded)
        await self._hand_over(moved)

    async def _hand_over(self, command: plan.PlanCommand) -> plan.PlanAnswer:
        update = workflow.current_update_info()
        handed = plan.Handed(command, update.id if update else None)
        if not patched(COMMANDS_IN_LOOP_PATCH):
            async with self.lock:
                return await self._apply(handed)
        return await self.commands.hand_over_in_turn(handed)

    @workflow.signal(name=PAYMENT_EVENT_SIGNAL)
    def payment_event(self, event: PaymentEvent) -> None:
        self.authentication.receive(event)

    @workflow.query(name=CURRENT_QUERY)
    def current(self) -> plan.PlanView:
        return self.view()

    # ------------------------------------------------------------------ helpers

    async def _paid(self, kind: PaymentKind, key: str, amount: Decimal) -> bool:
        """Move the money on the plan's current payment method; False when declined."""
        start = self.start
        account = PaymentAccount(
            start.org_id,
            start.plan_id,
            start.policy.currency,
            self.state.payment_method,
            self.authentication,
        )
        return await pay_unless_declined(account, kind, amount, key)

    async def _certificate(self, issued_for: str) -> None:
        self.state.certificates += 1
        step = f"coverage-certificate-{self.state.certificates}"
        await self.certificates.coverage(
            plan.coverage_certificate(self.start, self.state, issued_for), step
        )

    def _money_text(self, amount: Decimal) -> str:
        """An amount of the plan's currency with its own minor units (`12000` JPY). Only
        timeline details carry it, the `project` local activity's input, which replay does
        not compare (the marker holds the result): a running plan needs no patch."""
        return money_text(amount, self.start.policy.currency)

    def view(self) -> plan.PlanView:
        return plan.plan_view(self.start.plan_id, self.state, workflow.now())

    def _require_open(self, action: str) -> None:
        status = self.state.status
        if not self.case.recorded or status in plan.TERMINAL_PLAN_STATUSES:
            raise invalid_transition(action, status.value, ())

    def _data(self) -> dict[str, Any]:
        return service_plan_facts(self.start, self.state, self.view()).to_data()

    async def _transition(
        self,
        status: P,
        event: E,
        detail: dict[str, str],
        links: dict[str, str] | None = None,
        actor: Actor | None = None,
    ) -> None:
        """`actor` names who gave the command; the plan's own steps (and commands from
        histories recorded before commands carried one) are the system's."""
        self.state.status = status
        await self.timeline.project(
            status, event, actor or Actor.system(), detail, data=self._data(), links=links
        )
