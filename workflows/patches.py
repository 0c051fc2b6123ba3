"""Every patch id of the workflows, and the one way to ask for one (`patched`).

Each `workflow.patched` call a case makes the first time records a marker event in its
history, and a search-attribute upsert beside it: a write the server also makes to its
visibility store. So a case started on the code of today asks for none. Its start carries
the code generation it was started on (`domain.common.start_memo`), and the changes that
generation settled (`SETTLED`) are taken without asking. A case started before the memo
asks, as it always did: its history holds a marker where it took the change.

`BATCHED_STEPS_PATCH` is the id of the batched steps: a case of generation 0 started since
records one, whatever steps it batches. Histories recorded before that id keep the per-change
ids they carry: a kit step that was batched under its own id asks `batched(THAT_ID)`, which
honours either marker. Every gate asks for the batched id first, so in a case recorded before
it the first gate replayed answers False for the whole run (the SDK memoizes a patch per run)
and the case goes on as it was.

A change made since the batched steps cannot join `batched()`: a case recorded after them
carries their marker yet ran without the change. `MINOR_UNITS_PATCH` is one, asked only by
the cases it changes anything for (see `rounding_currency`), so most record no marker.

A new change gets an id here, asked through `patched`, and stays out of `SETTLED` until the
generation that settles it: cases of the current generation that are running when it
deploys took the old way, unmarked.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.common import CODE_GENERATION_MEMO
    from domain.money import minor_units

BATCHED_STEPS_PATCH = "batched-steps"

# Amounts a workflow computes (a plan's cancellation refund, a repair's quote) rounded to
# the case's own currency's minor unit; before it, to hundredths whatever the currency.
MINOR_UNITS_PATCH = "currency-minor-units"

# A carrier booking runs as a local activity, in the workflow task that asks for it; before
# it, as an activity (its own task, and a workflow task more for its completion).
LOCAL_BOOKINGS_PATCH = "local-bookings"

# Before this patch a refused booking failed the workflow (no carrier refused one then).
CARRIER_ERROR_PATCH = "carrier-error-retry"

# Before this patch a parcel's label, its packing slip and the transition they came with
# were three local activities in a row (`render_label`, `render_packing_slip`, `project`).
ONE_STEP_LABEL_PATCH = "one-step-label"

# Before this patch such a workflow retried its first step for ever and its creator waited
# on a 503 `decision_pending` that never turned into an answer.
UNRECORDABLE_PATCH = "unrecordable-case-refused"

# Before this patch the claim and the record were two local activities (and a case refused
# for its data gave back its claims in a third).
ONE_STEP_RECORD_PATCH = "one-step-record"

# Before this patch each transition in `together` was its own `project` local activity.
ONE_STEP_PROJECTION_PATCH = "one-step-projection"

# Before this patch the one-open-case-per-serial check was only the API's look at open
# cases, which concurrent requests for one unit all passed.
OPEN_SERIAL_PATCH = "rma-open-serial-claim"

# Before these an RMA resolved by repair or replacement waited in `resolving` for an outcome
# given by hand, and an RMA resolved by repair sent the unit to the retailer, not straight to
# a repair center.
REPAIR_CHILD_PATCH = "repair-child"
REPLACEMENT_CHILD_PATCH = "replacement-child"
ROUTE_REPAIR_AT_LABEL_PATCH = "route-repair-at-label"

# Before this patch a child case that ended without a result failed its parent.
CHILD_ENDED_PATCH = "child-ended-abnormally"

# Before this patch a declined card on an advance replacement's core failed the workflow.
CORE_CAPTURE_DECLINED_PATCH = "core-capture-declined"

# Before this patch a relocated asset left its service plan behind.
PLAN_FOLLOWS_ASSET_PATCH = "plan-follows-asset"

# Before this patch a continued plan applied a retried command again.
COMMAND_DEDUPE_PATCH = "plan-command-dedupe-across-runs"
# Before this patch a plan's transfer kept the old owner's tracking token.
TRANSFER_TOKEN_PATCH = "transfer-new-tracking-token"
# Before this patch each handler applied its command itself, under a lock.
COMMANDS_IN_LOOP_PATCH = "plan-commands-in-main-loop"

# Before this patch no gateway asked for the customer's authentication, and a
# `requires_action` answer (from a gateway deployed ahead of its workers) passed as paid.
AUTHENTICATION_PATCH = "payment-customer-authentication"

# Before this patch a webhook queue sent its deliveries one activity each.
WEBHOOKS_IN_RUNS_PATCH = "webhooks-in-runs"

# The changes each code generation settled: a case started on that generation (or a later
# one) takes them without a marker.
SETTLED: dict[int, frozenset[str]] = {
    1: frozenset(
        {
            BATCHED_STEPS_PATCH,
            MINOR_UNITS_PATCH,
            LOCAL_BOOKINGS_PATCH,
            CARRIER_ERROR_PATCH,
            ONE_STEP_LABEL_PATCH,
            UNRECORDABLE_PATCH,
            ONE_STEP_RECORD_PATCH,
            ONE_STEP_PROJECTION_PATCH,
            OPEN_SERIAL_PATCH,
            REPAIR_CHILD_PATCH,
            REPLACEMENT_CHILD_PATCH,
            ROUTE_REPAIR_AT_LABEL_PATCH,
            CHILD_ENDED_PATCH,
            CORE_CAPTURE_DECLINED_PATCH,
            PLAN_FOLLOWS_ASSET_PATCH,
            COMMAND_DEDUPE_PATCH,
            TRANSFER_TOKEN_PATCH,
            COMMANDS_IN_LOOP_PATCH,
            AUTHENTICATION_PATCH,
            WEBHOOKS_IN_RUNS_PATCH,
        }
    ),
}

# What a case recorded before `MINOR_UNITS_PATCH` rounded to: any two-decimal currency.
_HUNDREDTHS = "USD"


def generation() -> int:
    """The code generation this case was started on: 0 for a case started before the memo."""
    started_on: int = workflow.memo_value(CODE_GENERATION_MEMO, 0, type_hint=int)
    return started_on


def settled(patch_id: str) -> bool:
    """Whether the case's generation settled the change: it takes it, unasked."""
    started_on = generation()
    return any(patch_id in ids for since, ids in SETTLED.items() if since <= started_on)


def patched(patch_id: str) -> bool:
    """Whether the case takes the change: settled by its generation, or (asked as
    `workflow.patched` asks) started on code that made it or marked where it took it."""
    if not settled(patch_id):
        return workflow.patched(patch_id)
    if workflow.unsafe.is_replaying():
        # A worker of the generation before, deployed beside the API that started the case,
        # may have run it and marked the change: asking takes that marker, as that worker's
        # replay would. Where there is none, asking on replay records nothing.
        workflow.patched(patch_id)
    return True


def batched(since: str | None = None) -> bool:
    """Whether this case takes the batched steps: started on this code, or (given `since`)
    recorded with the patch id that step was batched under first."""
    if patched(BATCHED_STEPS_PATCH):
        return True
    return since is not None and patched(since)


def rounding_currency(currency: str) -> str:
    """The currency whose minor unit the case rounds an amount it computes to: its own, or
    (a case recorded before `MINOR_UNITS_PATCH`, replaying what it paid and answered then)
    hundredths as `USD`. A currency with two decimals computes the same either way, so it
    asks for no patch and its case records no marker; not in a validator (read-only)."""
    if minor_units(currency) == minor_units(_HUNDREDTHS) or patched(MINOR_UNITS_PATCH):
        return currency
    return _HUNDREDTHS
