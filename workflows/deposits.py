"""A deposit held on the customer's card while something of ours is out with them (an
advance replacement's unit until its core comes back): placed, renewed before the gateway
lets it lapse, then released, or captured when what it guards never returns.

    self.deposit = Deposit(account, start.unit_price)
    renewed = await self.deposit.place(FULFILMENT_RETRY)
    ...
    await self.deposit.release()  # or capture()

Each hold is keyed by the workflow id and its number (`hold-1`, `hold-2`...); its release
and capture by the hold's key, so a retried step never moves money twice.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from domain.contracts.facts import HoldFacts
    from domain.contracts.payments import PaymentKind
    from domain.ids import step_key
    from domain.replacement import HoldState
    from workflows.base import EXTERNAL_RETRY
    from workflows.payments import PaymentAccount, pay


class Deposit:
    """The hold standing for one case, if any, and what became of it."""

    def __init__(self, account: PaymentAccount, amount: Decimal) -> None:
        self.account = account
        self.amount = amount
        self.hold: HoldState | None = None
        self.placed = 0  # holds asked for, a failed renewal included
        # "held", then "released", "captured" or "capture_declined"; None before a hold.
        self.status: str | None = None
        # False once a renewal failed: the standing hold is left to lapse.
        self.renewing = True

    @property
    def held(self) -> bool:
        return self.hold is not None and self.status == "held"

    async def place(self, retry: RetryPolicy) -> bool:
        """Hold the amount; a hold already standing is released once the new one is placed.
        True when this renewed a hold. A declined hold raises (see `payments.declined`)."""
        self.placed += 1
        key = step_key(workflow.info().workflow_id, f"hold-{self.placed}")
        await pay(self.account, PaymentKind.HOLD, self.amount, key, retry)
        previous = self.hold
        self.hold = HoldState(key=key, placed_at=workflow.now(), amount=self.amount)
        self.status = "held"
        if previous is not None:
            await self._settle(previous, PaymentKind.RELEASE)
        return previous is not None

    def renew_at(self) -> datetime | None:
        """When the standing hold must be renewed, or None: no hold, or renewal gave up."""
        if self.hold is None or not self.held or not self.renewing:
            return None
        return self.hold.renew_at

    async def release(self) -> bool:
        """Let the standing hold go; False when none stands."""
        if self.hold is None or not self.held:
            return False
        await self._settle(self.hold, PaymentKind.RELEASE)
        self.status = "released"
        return True

    async def capture(self) -> None:
        """Take the held amount. A declined capture raises, and the status is left to the
        case to set."""
        assert self.hold is not None
        await self._settle(self.hold, PaymentKind.CAPTURE)
        self.status = "captured"

    def facts(self) -> HoldFacts | None:
        if self.hold is None or self.status is None:
            return None
        return HoldFacts(self.hold.amount, self.status, self.hold.placed_at, self.placed - 1)

    async def _settle(self, hold: HoldState, kind: PaymentKind) -> None:
        await pay(self.account, kind, self.amount, f"{hold.key}/{kind.value}", EXTERNAL_RETRY)
