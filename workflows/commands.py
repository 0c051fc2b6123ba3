"""Handing a command from an update handler to the main loop: the one way every lifecycle does.

The main loop owns every transition. An update's validator refuses what the case cannot do
now (before anything reaches history); its handler hands the command over and waits until
the loop has applied it, so the API answers with the state the command produced:

    self.receipt: CommandSlot[rma.ReceiveRequest] = CommandSlot()

    @workflow.update(name=rma.RECEIVE_UPDATE)
    async def receive(self, request: rma.ReceiveRequest) -> rma.RmaView:
        await self.receipt.hand_over(request)
        return self.view()

    @receive.validator
    def _validate_receive(self, request: rma.ReceiveRequest) -> None:
        self._require("receive", self.receipt.empty)

    # in the main loop
    await self._wait_for(lambda: not self.receipt.empty, None)
    request = self.receipt.take()
    ...  # apply it
    self.receipt.done()

A slot holds one command at a time and stays occupied from `hand_over` until `done`, so a
validator that requires `empty` refuses a second command while the first is applied. A
lifecycle may keep one slot per command (each its own gate) or one slot for a union of
commands (one command at a time, dispatched with `match`). A command whose handler needs an
answer other than the case's view (a claim's decision) says so in the second type
parameter and gets it from `done(answer)`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, cast, overload

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    # The standard library's TypeVar takes a default from Python 3.13 on.
    from typing_extensions import TypeVar

C = TypeVar("C")
A = TypeVar("A", default=None)


class CommandSlot(Generic[C, A]):
    """One command at a time, from the update handler that accepted it to the main loop."""

    def __init__(self) -> None:
        self._command: C | None = None
        self._answer: A | None = None
        # Tickets, so that a handler wakes for its own command even if the next one has
        # already been handed over by the time it runs again.
        self._handed = 0
        self._applied = 0

    @property
    def empty(self) -> bool:
        """No command waiting or being applied: for validators."""
        return self._command is None

    @property
    def command(self) -> C | None:
        """The command waiting or being applied, if any, left in place."""
        return self._command

    async def hand_over(self, command: C) -> A:
        """For the update handler: give the loop the command, wait until it is applied and
        answer what the loop answered with `done`. The validator has checked `empty`."""
        if self._command is not None:
            raise RuntimeError("a command is already in the slot: validate with `empty`")
        self._command = command
        self._handed += 1
        ticket = self._handed
        await workflow.wait_condition(lambda: self._applied >= ticket)
        return cast(A, self._answer)

    async def hand_over_in_turn(self, command: C) -> A:
        """`hand_over` for a lifecycle that queues commands instead of refusing them: wait
        until the slot is free, then hand over. Handlers waiting together take turns."""
        # Several may wake as the slot frees: the first takes it, the others wait again.
        while self._command is not None:
            await workflow.wait_condition(lambda: self._command is None)
        return await self.hand_over(command)

    def take(self) -> C:
        """For the loop: the command to apply. It stays in the slot (validators keep
        refusing others) until `done`."""
        if self._command is None:
            raise RuntimeError("no command in the slot: wait until it is not `empty`")
        return self._command

    @overload
    def done(self: CommandSlot[C, None]) -> None: ...
    @overload
    def done(self, answer: A) -> None: ...
    def done(self, answer: A | None = None) -> None:
        """For the loop: the command is applied. Frees the slot and wakes its handler with
        the answer."""
        if self._command is None:
            raise RuntimeError("no command in the slot to finish")
        self._command = None
        self._answer = answer
        self._applied = self._handed

    async def apply(self, apply: Callable[[C], Awaitable[A]]) -> None:
        """For the loop: take the command, apply it, answer what `apply` returned. If
        `apply` raises (the workflow is failing) the slot is freed all the same."""
        try:
            answer = await apply(self.take())
        except BaseException:
            self._command = None
            self._applied = self._handed
            raise
        self.done(answer)

    async def apply_until_handlers_finished(self, apply: Callable[[C], Awaitable[A]]) -> None:
        """For a loop that ends while commands may still be waiting their turn: apply each
        as it is handed over (`apply`) until every handler is done."""
        while not workflow.all_handlers_finished():
            await workflow.wait_condition(
                lambda: not self.empty or workflow.all_handlers_finished()
            )
            if not self.empty:
                await self.apply(apply)
