"""Patch ids shared by the workflows, kept few. Each `workflow.patched` call a case makes
the first time records a marker event in its history, so one id per change cost a repair job
a marker per change; `BATCHED_STEPS_PATCH` is the id of the batched steps, and a case
started on this code records one, whatever steps it batches.

Histories recorded before that id keep the per-change ids they carry: a kit step that was
batched under its own id asks `batched(THAT_ID)`, which honours either marker. Every gate
asks for the batched id first, so in a case recorded before it the first gate replayed
answers False for the whole run (the SDK memoizes a patch per run) and the case goes on as
it was.

A change made since cannot join `batched()`: a case recorded after the batched steps
carries their marker yet ran without the change. `MINOR_UNITS_PATCH` is one, asked only by
the cases it changes anything for (see `rounding_currency`), so most record no marker.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.money import minor_units

BATCHED_STEPS_PATCH = "batched-steps"

# Amounts a workflow computes (a plan's cancellation refund, a repair's quote) rounded to
# the case's own currency's minor unit; before it, to hundredths whatever the currency.
MINOR_UNITS_PATCH = "currency-minor-units"

# A carrier booking runs as a local activity, in the workflow task that asks for it; before
# it, as an activity (its own task, and a workflow task more for its completion).
LOCAL_BOOKINGS_PATCH = "local-bookings"

# What a case recorded before `MINOR_UNITS_PATCH` rounded to: any two-decimal currency.
_HUNDREDTHS = "USD"


def batched(since: str | None = None) -> bool:
    """Whether this case takes the batched steps: started on this code, or (given `since`)
    recorded with the patch id that step was batched under first."""
    if workflow.patched(BATCHED_STEPS_PATCH):
        return True
    return since is not None and workflow.patched(since)


def rounding_currency(currency: str) -> str:
    """The currency whose minor unit the case rounds an amount it computes to: its own, or
    (a case recorded before `MINOR_UNITS_PATCH`, replaying what it paid and answered then)
    hundredths as `USD`. A currency with two decimals computes the same either way, so it
    asks for no patch and its case records no marker; not in a validator (read-only)."""
    if minor_units(currency) == minor_units(_HUNDREDTHS) or workflow.patched(MINOR_UNITS_PATCH):
        return currency
    return _HUNDREDTHS
