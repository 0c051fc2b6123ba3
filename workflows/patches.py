"""The patch id of the batched steps. Each `workflow.patched` call a case makes the first
time records a marker event in its history, so one id per change cost a repair job a marker
per change; a case started on this code records one, whatever steps it batches.

Histories recorded before this id keep the per-change ids they carry: a kit step that was
batched under its own id asks `batched(THAT_ID)`, which honours either marker. Every gate
asks for this id first, so in a case recorded before it the first gate replayed answers
False for the whole run (the SDK memoizes a patch per run) and the case goes on as it was.
"""

from __future__ import annotations

from temporalio import workflow

BATCHED_STEPS_PATCH = "batched-steps"


def batched(since: str | None = None) -> bool:
    """Whether this case takes the batched steps: started on this code, or (given `since`)
    recorded with the patch id that step was batched under first."""
    if workflow.patched(BATCHED_STEPS_PATCH):
        return True
    return since is not None and workflow.patched(since)
