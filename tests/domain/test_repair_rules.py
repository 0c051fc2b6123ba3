"""Repair job rules (lifecycles.md §2, api.md "Repairs"): transitions, quotes, SLA, routing."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.money import minor_units
from domain.repair import (
    REPAIR_TRANSITIONS,
    TERMINAL_REPAIR_STATUSES,
    CenterProfile,
    Part,
    PendingQuote,
    Quote,
    RepairCoverage,
    RepairStatus,
    can_transition,
    cancellable,
    needs_quote,
    quote,
    route,
    sla_breached,
    sla_due_at,
)

S = RepairStatus

# ---------------------------------------------------------------------------- transitions

# §2 written out state by state, independently of the module's table.
EXPECTED_NEXT: dict[RepairStatus, set[RepairStatus]] = {
    S.AWAITING_UNIT: {S.RECEIVED, S.CANCELLED},
    S.RECEIVED: {S.DIAGNOSING, S.CANCELLED},
    S.DIAGNOSING: {
        S.AWAITING_APPROVAL,
        S.AWAITING_PARTS,
        S.REPAIRING,
        S.BEYOND_REPAIR,
        S.READY_TO_SHIP,
        S.CANCELLED,
    },
    S.AWAITING_APPROVAL: {S.AWAITING_PARTS, S.REPAIRING, S.READY_TO_SHIP, S.CANCELLED},
    S.AWAITING_PARTS: {S.REPAIRING, S.CANCELLED},
    S.REPAIRING: {S.QUALITY_CHECK},
    S.QUALITY_CHECK: {S.READY_TO_SHIP, S.REPAIRING, S.BEYOND_REPAIR},
    S.READY_TO_SHIP: {S.SHIPPED},
    S.SHIPPED: {S.COMPLETED, S.RETURNED_UNREPAIRED},
    S.COMPLETED: set(),
    S.RETURNED_UNREPAIRED: set(),
    S.BEYOND_REPAIR: set(),
    S.CANCELLED: set(),
    S.UNROUTABLE: set(),
}

TERMINALS = {S.COMPLETED, S.RETURNED_UNREPAIRED, S.BEYOND_REPAIR, S.CANCELLED, S.UNROUTABLE}
BEFORE_REPAIRING = {
    S.AWAITING_UNIT,
    S.RECEIVED,
    S.DIAGNOSING,
    S.AWAITING_APPROVAL,
    S.AWAITING_PARTS,
}


def test_status_values_are_the_spec_names() -> None:
    assert {s.value for s in RepairStatus} == {
        "awaiting_unit",
        "received",
        "diagnosing",
        "awaiting_approval",
        "awaiting_parts",
        "repairing",
        "quality_check",
        "ready_to_ship",
        "shipped",
        "completed",
        "returned_unrepaired",
        "beyond_repair",
        "cancelled",
        "unroutable",
    }


def test_terminal_statuses() -> None:
    assert set(TERMINAL_REPAIR_STATUSES) == TERMINALS


def test_table_covers_every_status() -> None:
    assert set(REPAIR_TRANSITIONS) == set(RepairStatus)


@pytest.mark.parametrize("current", list(RepairStatus))
def test_allowed_next_statuses(current: RepairStatus) -> None:
    assert set(REPAIR_TRANSITIONS[current]) == EXPECTED_NEXT[current]


@pytest.mark.parametrize("current", list(RepairStatus))
@pytest.mark.parametrize("target", list(RepairStatus))
def test_can_transition_matches_spec(current: RepairStatus, target: RepairStatus) -> None:
    assert can_transition(current, target) is (target in EXPECTED_NEXT[current])


@pytest.mark.parametrize("terminal", sorted(TERMINALS))
def test_terminals_are_closed(terminal: RepairStatus) -> None:
    assert not any(can_transition(terminal, target) for target in RepairStatus)


@pytest.mark.parametrize("status", list(RepairStatus))
def test_cancel_only_before_repairing(status: RepairStatus) -> None:
    assert cancellable(status) is (status in BEFORE_REPAIRING)
    assert can_transition(status, S.CANCELLED) is (status in BEFORE_REPAIRING)


@pytest.mark.parametrize("status", [S.REPAIRING, S.QUALITY_CHECK, S.READY_TO_SHIP, S.SHIPPED])
def test_no_cancel_once_work_started(status: RepairStatus) -> None:
    assert not cancellable(status)


def test_unroutable_is_never_a_target() -> None:
    assert not any(S.UNROUTABLE in nxt for nxt in REPAIR_TRANSITIONS.values())


def test_happy_path_is_walkable() -> None:
    path = [
        S.AWAITING_UNIT,
        S.RECEIVED,
        S.DIAGNOSING,
        S.AWAITING_APPROVAL,
        S.AWAITING_PARTS,
        S.REPAIRING,
        S.QUALITY_CHECK,
        S.READY_TO_SHIP,
        S.SHIPPED,
        S.COMPLETED,
    ]
    assert all(can_transition(a, b) for a, b in itertools.pairwise(path))


def test_skipping_steps_is_refused() -> None:
    assert not can_transition(S.AWAITING_UNIT, S.DIAGNOSING)
    assert not can_transition(S.DIAGNOSING, S.QUALITY_CHECK)
    assert not can_transition(S.REPAIRING, S.READY_TO_SHIP)  # QA cannot be skipped
    assert not can_transition(S.READY_TO_SHIP, S.COMPLETED)  # must ship first
    assert not can_transition(S.AWAITING_PARTS, S.AWAITING_APPROVAL)


# ---------------------------------------------------------------------------- coverage


@pytest.mark.parametrize(
    ("coverage", "expected"),
    [
        (RepairCoverage.WARRANTY, False),
        (RepairCoverage.SERVICE_PLAN, False),
        (RepairCoverage.RETURN_WINDOW, False),
        (RepairCoverage.PAID, True),
    ],
)
def test_only_paid_needs_a_quote(coverage: RepairCoverage, expected: bool) -> None:
    assert needs_quote(coverage) is expected


# ---------------------------------------------------------------------------- quotes


def part(quantity: int = 1, unit_price: str = "10.00", part_no: str = "P-1") -> Part:
    return Part(
        part_no=part_no, description="part", quantity=quantity, unit_price=Decimal(unit_price)
    )


def test_quote_concrete_example() -> None:
    result = quote(
        [part(2, "12.50", "P-1"), part(1, "3.99", "P-2")],
        labor_minutes=45,
        labor_rate_per_hour=Decimal("80.00"),
        currency="USD",
    )
    assert result == Quote(
        parts_total=Decimal("28.99"), labor_total=Decimal("60.00"), total=Decimal("88.99")
    )
    assert result.total.as_tuple().exponent == -2


def test_quote_no_parts_no_labor_is_zero() -> None:
    assert quote([], 0, Decimal("80.00"), "USD") == Quote(
        Decimal("0.00"), Decimal("0.00"), Decimal("0.00")
    )


@pytest.mark.parametrize(
    ("currency", "amount"), [("USD", "90.00"), ("JPY", "90"), ("KWD", "90.000")]
)
def test_the_quote_detail_has_the_currencys_minor_units(currency: str, amount: str) -> None:
    expires_at = datetime(2026, 3, 1, tzinfo=UTC)
    pending = PendingQuote(quote([], 60, Decimal("90"), "USD"), expires_at)
    assert pending.detail(currency) == {
        "amount": amount,
        "currency": currency,
        "expires_at": expires_at.isoformat(),
    }


def test_labor_rounds_half_up() -> None:
    # 1 minute at 0.30/h = 0.005 → 0.01 half up (banker's rounding would give 0.00).
    assert quote([], 1, Decimal("0.30"), "USD").labor_total == Decimal("0.01")
    # 1 minute at 0.90/h = 0.015 → 0.02 (banker's would also give 0.02); 0.25/h → 0.0041… → 0.00
    assert quote([], 1, Decimal("0.90"), "USD").labor_total == Decimal("0.02")
    assert quote([], 1, Decimal("0.25"), "USD").labor_total == Decimal("0.00")
    # 10 minutes at 75.00/h = 12.50 exactly; 7 minutes at 100/h = 11.666… → 11.67
    assert quote([], 10, Decimal("75.00"), "USD").labor_total == Decimal("12.50")
    assert quote([], 7, Decimal("100"), "USD").labor_total == Decimal("11.67")


def test_parts_round_half_up_after_summing() -> None:
    # 0.125 → 0.13 half up (banker's: 0.12).
    assert quote([part(1, "0.125")], 0, Decimal(0), "USD").parts_total == Decimal("0.13")
    # Summed before rounding: 3 * 0.333 = 0.999 → 1.00 (rounding each unit first: 0.99).
    assert quote([part(3, "0.333")], 0, Decimal(0), "USD").parts_total == Decimal("1.00")
    # Two lines of 0.004 = 0.008 → 0.01 (rounding per line would give 0.00).
    lines = [part(1, "0.004", "A"), part(1, "0.004", "B")]
    assert quote(lines, 0, Decimal(0), "USD").parts_total == Decimal("0.01")


@pytest.mark.parametrize("quantity", [0, -1])
def test_quote_rejects_bad_quantity(quantity: int) -> None:
    with pytest.raises(ValueError):
        quote([part(quantity=quantity)], 0, Decimal("80"), "USD")


@pytest.mark.parametrize("price", ["-0.01", "NaN", "Infinity"])
def test_quote_rejects_bad_price(price: str) -> None:
    with pytest.raises(ValueError):
        quote([part(unit_price=price)], 0, Decimal("80"), "USD")


def test_quote_rejects_negative_minutes() -> None:
    with pytest.raises(ValueError):
        quote([], -1, Decimal("80"), "USD")


def test_quote_rejects_negative_rate() -> None:
    with pytest.raises(ValueError):
        quote([], 10, Decimal("-1"), "USD")


def test_quote_accepts_free_parts_and_zero_minutes() -> None:
    assert quote([part(1, "0")], 0, Decimal("80"), "USD").total == Decimal("0.00")


# Prices with up to four places, as integer ten-thousandths so the oracle never sees a Decimal.
price_units = st.integers(min_value=0, max_value=10_000_000)  # up to 1000.0000
quantities = st.integers(min_value=1, max_value=50)
rate_cents = st.integers(min_value=0, max_value=100_000)  # up to 1000.00 per hour
minutes = st.integers(min_value=0, max_value=10_000)
part_specs = st.lists(st.tuples(quantities, price_units), max_size=6)


def parts_from(specs: list[tuple[int, int]]) -> list[Part]:
    return [
        Part(part_no=f"P-{i}", description="", quantity=q, unit_price=Decimal(u) / 10_000)
        for i, (q, u) in enumerate(specs)
    ]


def as_cents(amount: Decimal) -> int:
    scaled = amount * 100
    assert scaled == scaled.to_integral_value(), amount
    return int(scaled)


def oracle_parts_cents(specs: list[tuple[int, int]]) -> int:
    """sum of qty * price in ten-thousandths, half up to the cent (a hundredth of them)."""
    return (sum(q * u for q, u in specs) + 50) // 100


def oracle_labor_cents(rate_in_cents: int, labor_minutes: int) -> int:
    """rate_cents * minutes / 60, half up: floor((2n + d) / 2d) with d = 60."""
    return (2 * rate_in_cents * labor_minutes + 60) // 120


@given(part_specs, minutes, rate_cents)
def test_total_is_parts_plus_labor(
    specs: list[tuple[int, int]], labor_minutes: int, rate: int
) -> None:
    result = quote(parts_from(specs), labor_minutes, Decimal(rate) / 100, "USD")
    assert result.total == result.parts_total + result.labor_total
    assert as_cents(result.total) == as_cents(result.parts_total) + as_cents(result.labor_total)


@given(part_specs, minutes, rate_cents)
def test_quote_matches_integer_cents_oracle(
    specs: list[tuple[int, int]], labor_minutes: int, rate: int
) -> None:
    result = quote(parts_from(specs), labor_minutes, Decimal(rate) / 100, "USD")
    assert as_cents(result.parts_total) == oracle_parts_cents(specs)
    assert as_cents(result.labor_total) == oracle_labor_cents(rate, labor_minutes)


@given(
    st.one_of(
        st.tuples(st.integers(max_value=0), st.just(0), st.just(0)),  # bad quantity
        st.tuples(st.just(1), st.integers(max_value=-1), st.just(0)),  # negative price
        st.tuples(st.just(1), st.just(0), st.integers(max_value=-1)),  # negative minutes
    )
)
def test_quote_rejects_any_bad_input(bad: tuple[int, int, int]) -> None:
    quantity, price_cents, labor_minutes = bad
    with pytest.raises(ValueError):
        quote(
            [Part("P", "", quantity, Decimal(price_cents) / 100)],
            labor_minutes,
            Decimal("80.00"),
            "USD",
        )


# Each figure half up to the currency's own minor unit: one part at 12.5 (0.0125 KWD) and 7
# minutes at 100 an hour (1 KWD): 11.666…, 0.1166… KWD.
@pytest.mark.parametrize(
    ("currency", "price", "rate", "totals"),
    [
        ("USD", "0.125", "100", ("0.13", "11.67", "11.80")),
        ("JPY", "12.5", "100", ("13", "12", "25")),
        ("KWD", "0.0125", "1", ("0.013", "0.117", "0.130")),
    ],
)
def test_a_quote_is_in_the_currencys_minor_units(
    currency: str, price: str, rate: str, totals: tuple[str, str, str]
) -> None:
    result = quote([part(1, price)], 7, Decimal(rate), currency)
    parts_total, labor_total, total = (Decimal(t) for t in totals)
    assert result == Quote(parts_total, labor_total, total)
    places = -minor_units(currency)
    assert [a.as_tuple().exponent for a in (result.parts_total, result.labor_total)] == [
        places,
        places,
    ]
    assert result.total.as_tuple().exponent == places


@given(st.sampled_from(["USD", "JPY", "KWD"]), part_specs, minutes, rate_cents)
def test_quote_matches_an_integer_oracle_in_every_currency(
    currency: str, specs: list[tuple[int, int]], labor_minutes: int, rate: int
) -> None:
    places = minor_units(currency)
    result = quote(parts_from(specs), labor_minutes, Decimal(rate) / 100, currency)

    def half_up(numerator: int, denominator: int) -> Decimal:
        return Decimal((2 * numerator + denominator) // (2 * denominator)).scaleb(-places)

    # Prices in ten-thousandths, the rate in hundredths an hour: counted in minor units.
    assert result.parts_total == half_up(sum(q * u for q, u in specs), 10 ** (4 - places))
    assert result.labor_total == half_up(rate * labor_minutes * 10**places, 100 * 60)
    assert result.total == result.parts_total + result.labor_total
    assert result.total.as_tuple().exponent == -places


# ---------------------------------------------------------------------------- SLA

RECEIVED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TURNAROUND = timedelta(days=5)
DAY = timedelta(days=1)


def test_no_pause_due_is_received_plus_turnaround() -> None:
    now = RECEIVED + 10 * DAY
    assert sla_due_at(RECEIVED, TURNAROUND, [], now) == RECEIVED + TURNAROUND


def test_closed_pause_extends_by_its_length() -> None:
    pauses: list[tuple[datetime, datetime | None]] = [(RECEIVED + DAY, RECEIVED + 3 * DAY)]
    due = sla_due_at(RECEIVED, TURNAROUND, pauses, RECEIVED + 10 * DAY)
    assert due == RECEIVED + TURNAROUND + 2 * DAY


def test_open_pause_extends_up_to_now() -> None:
    now = RECEIVED + 4 * DAY
    pauses: list[tuple[datetime, datetime | None]] = [(RECEIVED + DAY, None)]
    assert sla_due_at(RECEIVED, TURNAROUND, pauses, now) == RECEIVED + TURNAROUND + 3 * DAY
    # Still open a day later: the due time moves with it.
    later = sla_due_at(RECEIVED, TURNAROUND, pauses, now + DAY)
    assert later == RECEIVED + TURNAROUND + 4 * DAY


def test_pause_before_received_counts_only_from_received() -> None:
    pauses: list[tuple[datetime, datetime | None]] = [(RECEIVED - 3 * DAY, RECEIVED + DAY)]
    due = sla_due_at(RECEIVED, TURNAROUND, pauses, RECEIVED + 10 * DAY)
    assert due == RECEIVED + TURNAROUND + DAY


def test_pause_wholly_before_received_does_not_count() -> None:
    pauses: list[tuple[datetime, datetime | None]] = [(RECEIVED - 3 * DAY, RECEIVED - DAY)]
    due = sla_due_at(RECEIVED, TURNAROUND, pauses, RECEIVED + 10 * DAY)
    assert due == RECEIVED + TURNAROUND


def test_overlapping_pauses_counted_once() -> None:
    pauses: list[tuple[datetime, datetime | None]] = [
        (RECEIVED + DAY, RECEIVED + 3 * DAY),
        (RECEIVED + 2 * DAY, RECEIVED + 4 * DAY),
        (RECEIVED + DAY, RECEIVED + 3 * DAY),  # a duplicate record
    ]
    due = sla_due_at(RECEIVED, TURNAROUND, pauses, RECEIVED + 10 * DAY)
    assert due == RECEIVED + TURNAROUND + 3 * DAY


def test_nested_and_disjoint_pauses() -> None:
    pauses: list[tuple[datetime, datetime | None]] = [
        (RECEIVED + 6 * DAY, RECEIVED + 7 * DAY),
        (RECEIVED + DAY, RECEIVED + 4 * DAY),
        (RECEIVED + 2 * DAY, RECEIVED + 3 * DAY),  # inside the one before
    ]
    due = sla_due_at(RECEIVED, TURNAROUND, pauses, RECEIVED + 10 * DAY)
    assert due == RECEIVED + TURNAROUND + 4 * DAY


def test_open_pause_overlapping_closed_one_counted_once() -> None:
    now = RECEIVED + 5 * DAY
    pauses: list[tuple[datetime, datetime | None]] = [
        (RECEIVED + DAY, RECEIVED + 3 * DAY),
        (RECEIVED + 2 * DAY, None),
    ]
    assert sla_due_at(RECEIVED, TURNAROUND, pauses, now) == RECEIVED + TURNAROUND + 4 * DAY


def test_pause_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError):
        sla_due_at(RECEIVED, TURNAROUND, [(RECEIVED + 2 * DAY, RECEIVED + DAY)], RECEIVED)


DUE = RECEIVED + TURNAROUND


@pytest.mark.parametrize(
    ("ready_at", "now", "breached"),
    [
        (None, DUE - timedelta(seconds=1), False),  # still in time
        (None, DUE, False),  # exactly at the due time is not late
        (None, DUE + timedelta(seconds=1), True),  # not ready and past due
        (DUE - DAY, DUE + 10 * DAY, False),  # ready in time: later `now` does not matter
        (DUE, DUE + DAY, False),
        (DUE + timedelta(seconds=1), DUE + DAY, True),  # ready, but late
        (DUE + DAY, DUE - DAY, True),  # late readiness wins even with a stale `now`
    ],
)
def test_sla_breached(ready_at: datetime | None, now: datetime, breached: bool) -> None:
    assert sla_breached(DUE, ready_at, now) is breached


offsets = st.integers(min_value=-10 * 24 * 60, max_value=30 * 24 * 60).map(
    lambda m: timedelta(minutes=m)
)
lengths = st.integers(min_value=0, max_value=10 * 24 * 60).map(lambda m: timedelta(minutes=m))
turnarounds = st.integers(min_value=0, max_value=30).map(lambda d: timedelta(days=d))
pause_lists = st.lists(st.tuples(offsets, st.one_of(st.none(), lengths)), max_size=5)


def build_pauses(
    spec: list[tuple[timedelta, timedelta | None]],
) -> list[tuple[datetime, datetime | None]]:
    return [
        (RECEIVED + start, None if length is None else RECEIVED + start + length)
        for start, length in spec
    ]


@given(turnarounds, pause_lists, offsets)
def test_due_never_before_received_plus_turnaround(
    turnaround: timedelta, spec: list[tuple[timedelta, timedelta | None]], now_offset: timedelta
) -> None:
    now = RECEIVED + now_offset
    assert sla_due_at(RECEIVED, turnaround, build_pauses(spec), now) >= RECEIVED + turnaround


@given(turnarounds, pause_lists, offsets, st.integers(min_value=0, max_value=4))
def test_due_monotone_in_pause_length(
    turnaround: timedelta,
    spec: list[tuple[timedelta, timedelta | None]],
    now_offset: timedelta,
    index: int,
) -> None:
    """Lengthening any closed pause (or opening a new one) never brings the due time earlier."""
    now = RECEIVED + now_offset
    before = sla_due_at(RECEIVED, turnaround, build_pauses(spec), now)
    if spec:
        start, length = spec[index % len(spec)]
        longer = list(spec)
        longer[index % len(spec)] = (start, None if length is None else length + DAY)
        assert sla_due_at(RECEIVED, turnaround, build_pauses(longer), now) >= before
    extra = [*spec, (timedelta(days=2), DAY)]
    assert sla_due_at(RECEIVED, turnaround, build_pauses(extra), now) >= before


@given(turnarounds, st.lists(st.tuples(offsets, lengths), max_size=4))
def test_disjoint_after_received_pauses_add_up(
    turnaround: timedelta, raw: list[tuple[timedelta, timedelta]]
) -> None:
    """Laid end to end after `received`, pauses never overlap: the extension is their sum."""
    pauses: list[tuple[datetime, datetime | None]] = []
    cursor = RECEIVED
    total = timedelta(0)
    for gap, length in raw:
        start = cursor + abs(gap)
        pauses.append((start, start + length))
        cursor = start + length
        total += length
    due = sla_due_at(RECEIVED, turnaround, pauses, cursor + DAY)
    assert due == RECEIVED + turnaround + total


# ---------------------------------------------------------------------------- routing


def center(
    org_id: str,
    capacity: int = 10,
    categories: frozenset[str] = frozenset({"laptop"}),
    regions: frozenset[str] = frozenset({"US"}),
) -> CenterProfile:
    return CenterProfile(
        org_id=org_id, categories=categories, regions=regions, daily_capacity=capacity
    )


def test_category_filter() -> None:
    centers = [center("a", categories=frozenset({"phone"})), center("b")]
    assert route(centers, "laptop", "US", {"b": 9}) == "b"
    assert route(centers, "phone", "US", {"a": 9}) == "a"
    assert route(centers, "tv", "US", {}) is None


def test_region_filter() -> None:
    centers = [center("a", regions=frozenset({"DE", "FR"})), center("b")]
    assert route(centers, "laptop", "FR", {"b": 0}) == "a"
    assert route(centers, "laptop", "US", {"a": 0, "b": 9}) == "b"
    assert route(centers, "laptop", "JP", {}) is None


def test_country_codes_are_case_insensitive() -> None:
    centers = [center("a", regions=frozenset({"de"})), center("b", regions=frozenset({"US"}))]
    assert route(centers, "laptop", "DE", {}) == "a"
    assert route(centers, "laptop", "us", {}) == "b"


def test_least_relative_load_wins_not_fewest_jobs() -> None:
    # "big" has more open jobs but more capacity: 6/20 = 0.3 < 3/5 = 0.6.
    centers = [center("small", capacity=5), center("big", capacity=20)]
    assert route(centers, "laptop", "US", {"small": 3, "big": 6}) == "big"
    # ...and the other way round when "big" is fuller: 15/20 = 0.75 > 3/5.
    assert route(centers, "laptop", "US", {"small": 3, "big": 15}) == "small"


def test_missing_open_jobs_count_as_zero() -> None:
    centers = [center("a"), center("b")]
    assert route(centers, "laptop", "US", {"a": 1}) == "b"


def test_ties_go_to_smallest_org_id() -> None:
    # 2/10 == 1/5: equal relative load, whatever the order given.
    centers = [center("zeta", capacity=10), center("alpha", capacity=5)]
    assert route(centers, "laptop", "US", {"zeta": 2, "alpha": 1}) == "alpha"
    assert route(list(reversed(centers)), "laptop", "US", {"zeta": 2, "alpha": 1}) == "alpha"


def test_ties_compared_exactly_not_as_floats() -> None:
    # 1/3 and 2/6 are equal; float division could differ in the last bit for other pairs.
    centers = [center("b", capacity=3), center("a", capacity=6)]
    assert route(centers, "laptop", "US", {"b": 1, "a": 2}) == "a"


@pytest.mark.parametrize("capacity", [0, -1])
def test_no_capacity_never_chosen(capacity: int) -> None:
    centers = [center("empty", capacity=capacity), center("busy", capacity=1)]
    assert route(centers, "laptop", "US", {"empty": 0, "busy": 50}) == "busy"
    assert route([center("empty", capacity=capacity)], "laptop", "US", {}) is None


def test_unroutable_when_nothing_fits() -> None:
    assert route([], "laptop", "US", {}) is None


categories_st = st.frozensets(st.sampled_from(["laptop", "phone", "tv"]), max_size=3)
regions_st = st.frozensets(st.sampled_from(["US", "de", "Fr", "gb"]), max_size=4)
centers_st = st.lists(
    st.builds(
        CenterProfile,
        org_id=st.text(alphabet="abcdef", min_size=1, max_size=3),
        categories=categories_st,
        regions=regions_st,
        daily_capacity=st.integers(min_value=-1, max_value=20),
    ),
    max_size=8,
    unique_by=lambda c: c.org_id,
)


@given(
    centers_st,
    st.sampled_from(["laptop", "phone", "tv"]),
    st.sampled_from(["US", "us", "DE", "fr", "GB", "JP"]),
    st.dictionaries(st.text(alphabet="abcdef", min_size=1, max_size=3), st.integers(0, 100)),
)
def test_chosen_center_has_minimal_load(
    centers: list[CenterProfile], category: str, country: str, open_jobs: dict[str, int]
) -> None:
    fitting = [
        c
        for c in centers
        if c.daily_capacity > 0
        and category in c.categories
        and country.lower() in {r.lower() for r in c.regions}
    ]
    chosen = route(centers, category, country, open_jobs)
    if not fitting:
        assert chosen is None
        return
    assert chosen is not None
    by_id = {c.org_id: c for c in fitting}
    assert chosen in by_id

    def load(c: CenterProfile) -> Fraction:
        return Fraction(open_jobs.get(c.org_id, 0), c.daily_capacity)

    best = min(load(c) for c in fitting)
    assert load(by_id[chosen]) == best
    assert chosen == min(c.org_id for c in fitting if load(c) == best)
    # Deterministic: the order of the list does not matter.
    assert route(list(reversed(centers)), category, country, open_jobs) == chosen
