"""Who may open a case, and the page of cases each caller lists.

A retailer owns its cases. A partner organisation works some of them: the repair center a
unit is sent to (RMAs, repair jobs), the provider of a relocation, the center whose repair
job ended in a replacement. Anyone else, another retailer or partner included, is answered
404 for the case (never 403: that would tell the case exists). Each resource's routes open
their cases through one `CaseResource` (the case dependency of that resource), so the rule
is written once per case type."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from functools import partial
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import OrgKind, Principal
from api.deps import Reads
from api.errors import Problem, not_found
from api.pagination import decode_cursor, encode_cursor
from db import models
from db.cases import case_by_token, case_of_type, case_page, receiving_org
from db.queries import CaseBundle, load_case_bundle, load_case_bundles, load_case_view

T = TypeVar("T")
READERS = (OrgKind.RETAILER, OrgKind.REPAIR_CENTER)


@dataclass(frozen=True)
class CaseAccess:
    """A case the caller may see, and who they are to it: a key holder, or (None) the
    customer holding the case's tracking token."""

    case: models.Case
    principal: Principal | None


class Partner(Enum):
    """Which partner organisation works a case type's cases, if any."""

    NONE = "none"
    RECEIVER = "receiver"  # the organisation its unit is sent to (`receiving_org_id`)
    REPAIRER = "repairer"  # the center of the repair job the case came from


async def _works_on(session: AsyncSession, partner: Partner, case: models.Case, org: str) -> bool:
    if partner is Partner.RECEIVER:
        return case.receiving_org_id == org
    if partner is Partner.REPAIRER:
        repair_id = case.links.get("repair_id")
        return repair_id is not None and await receiving_org(session, str(repair_id)) == org
    return False


@dataclass
class CaseRef:
    """The case a request names, with the rule of who may open it. It is looked up when
    first opened, inside the route: after FastAPI has validated the request, so a refused
    body is a 422 whether or not the case exists or is this caller's, as it always was."""

    resource: CaseResource
    # The case is read through the request's bounded reads (`db.read_model_reader`).
    reads: Reads
    principal: Principal
    case_id: str
    kinds: tuple[OrgKind, ...] = READERS
    owner_only: bool = False
    _opened: CaseAccess | None = None

    @property
    def session(self) -> AsyncSession:
        return self.reads.session

    def _under_rule(self, read: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
        """The resource's `read` (`open` or `view`) of this case under this ref's rule, to be
        given the session."""
        return partial(
            read,
            principal=self.principal,
            case_id=self.case_id,
            kinds=self.kinds,
            owner_only=self.owner_only,
        )

    async def open(self) -> CaseAccess:
        if self._opened is None:
            self._opened = await self.reads(self._under_rule(self.resource.open))
        return self._opened

    async def view(self) -> CaseBundle:
        """The case opened (as `open` does) with its view, read together."""
        opened = self._opened
        if opened is not None:
            return await self.reads(lambda session: load_case_bundle(session, opened.case))
        bundle = await self.reads(self._under_rule(self.resource.view))
        self._opened = CaseAccess(bundle.case, self.principal)
        return bundle


@dataclass
class TokenRef:
    """The case a tracking token opens, for the customer holding it: the token is the
    credential, no key. Looked up when first asked, inside the route, as `CaseRef` is."""

    session: AsyncSession
    token: str
    _found: models.Case | None = None

    async def find(self) -> models.Case | None:
        if self._found is None:
            self._found = await case_by_token(self.session, self.token)
        return self._found

    async def open(self) -> CaseAccess:
        """The case, else 404 (an unknown token and a revoked one answer alike)."""
        case = await self.find()
        if case is None:
            raise not_found("case")
        return CaseAccess(case, None)


@dataclass(frozen=True)
class CaseResource:
    """One case type as its routes open and list it.

    `noun` names it in a 404; `partner` is who works it besides its owner; `partner_lists`
    whether that partner lists them (`GET` on the collection), oldest first when
    `partner_queue` (work is taken in order), else newest first as the owner sees them."""

    case_type: str
    noun: str
    partner: Partner = Partner.NONE
    partner_lists: bool = False
    partner_queue: bool = False

    async def open(
        self,
        session: AsyncSession,
        principal: Principal,
        case_id: str,
        *,
        kinds: tuple[OrgKind, ...] = READERS,
        owner_only: bool = False,
    ) -> CaseAccess:
        """The case if `principal` may see it, else 404. A key of a kind not in `kinds`
        is 403 before any lookup; with `owner_only`, a partner that sees the case is 403
        (the command is its owner's)."""
        principal.require(*kinds)
        case = await case_of_type(session, self.case_type, case_id)
        return await self._admit(session, principal, case, owner_only)

    async def view(
        self,
        session: AsyncSession,
        principal: Principal,
        case_id: str,
        *,
        kinds: tuple[OrgKind, ...] = READERS,
        owner_only: bool = False,
    ) -> CaseBundle:
        """`open` and the case's view in one go: the rule is applied to the case row the
        view reads (two statements in all, instead of the case and then its view)."""
        principal.require(*kinds)

        async def admit(case: models.Case) -> None:
            await self._admit(session, principal, case, owner_only)

        bundle = await load_case_view(session, case_id, admit)
        if bundle is None:
            raise not_found(self.noun)
        return bundle

    async def _admit(
        self,
        session: AsyncSession,
        principal: Principal,
        case: models.Case | None,
        owner_only: bool,
    ) -> CaseAccess:
        if case is None or case.case_type != self.case_type:
            raise not_found(self.noun)
        if principal.kind is OrgKind.RETAILER and case.org_id == principal.owner_id:
            return CaseAccess(case, principal)
        if principal.kind is OrgKind.REPAIR_CENTER and await _works_on(
            session, self.partner, case, principal.owner_id
        ):
            if owner_only:
                raise Problem(403, "forbidden", "only the retailer may do this")
            return CaseAccess(case, principal)
        raise not_found(self.noun)

    def ref(
        self,
        reads: Reads,
        principal: Principal,
        case_id: str,
        *,
        kinds: tuple[OrgKind, ...] = READERS,
        owner_only: bool = False,
    ) -> CaseRef:
        """The case a route names, opened (with `open`'s rule) when the route first asks."""
        return CaseRef(self, reads, principal, case_id, kinds, owner_only)

    async def page(
        self,
        session: AsyncSession,
        principal: Principal,
        status: str | None,
        cursor: str | None,
        limit: int,
    ) -> tuple[list[CaseBundle], str | None]:
        """A retailer's cases newest first; a partner's as `partner_queue` says. The page's
        cases are loaded in a fixed number of queries, whatever `limit` is."""
        principal.require(*(READERS if self.partner_lists else (OrgKind.RETAILER,)))
        owner = principal.kind is OrgKind.RETAILER
        oldest_first = not owner and self.partner_queue
        rows = await case_page(
            session,
            case_type=self.case_type,
            org_id=principal.owner_id if owner else None,
            receiving_org_id=None if owner else principal.owner_id,
            status=status,
            after=decode_cursor(cursor) if cursor else None,
            limit=limit + 1,
            oldest_first=oldest_first,
        )
        next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
        return await load_case_bundles(session, rows[:limit]), next_cursor
