"""Case ids: random enough that tenants drawing them independently never meet, readable,
and with their children's ids inside the `cases.id` column."""

from __future__ import annotations

import math
import re

from sqlalchemy import String

from db import models
from domain.ids import child_case_id, new_case_id

ID = re.compile(r"^RMA-2026-([0-9A-HJKMNP-TV-Z]{4})-([0-9A-HJKMNP-TV-Z]{4})-(.{4})-(.{4})$")


def test_a_case_id_carries_80_random_bits_in_groups_of_four() -> None:
    case_id = new_case_id("RMA", 2026)
    match = ID.match(case_id)
    assert match, case_id
    symbols = "".join(match.groups())
    # Crockford's alphabet has 32 symbols: 5 bits each.
    assert len(symbols) * math.log2(32) >= 80
    # No look-alike letters to misread on the phone.
    assert not set(symbols) & set("ILOU")


def test_ids_drawn_apart_do_not_repeat() -> None:
    drawn = {new_case_id("RMA", 2026) for _ in range(20_000)}
    assert len(drawn) == 20_000


def test_children_keep_the_number_and_fit_the_column() -> None:
    parent = new_case_id("PLN", 2026)
    child = child_case_id(parent, "REP")
    assert child == "REP-" + parent.split("-", 1)[1]
    # A plan's claims add "-C<n>" to the child id (workflows/service_plan.py).
    longest = f"{child}-C999"
    column = models.Case.__table__.c.id.type
    assert isinstance(column, String) and column.length is not None
    assert len(longest) <= column.length
