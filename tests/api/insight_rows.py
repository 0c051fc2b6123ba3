"""Rows of the read model written straight into it, as the projections and the API write
them: insight's figures are aggregates over them, and a known set makes each one exact."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert

from db import models
from db.session import make_engine, make_sessionmaker


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class Writer:
    """Rows of the read model as the projection and the API write them."""

    def __init__(self, org_id: str) -> None:
        self.org_id = org_id
        self.rows: list[tuple[Any, dict[str, Any]]] = []

    def case(
        self,
        case_type: str,
        created: str,
        units: list[tuple[str, str, str]],
        **columns: Any,
    ) -> str:
        case_id = f"T-{uuid.uuid4().hex[:16]}"
        self.rows.append(
            (
                models.Case,
                {
                    "id": case_id,
                    "org_id": self.org_id,
                    "case_type": case_type,
                    "workflow_id": f"wf-{case_id}",
                    "status": "completed",
                    "tracking_token": uuid.uuid4().hex,
                    "created_at": at(created),
                    "updated_at": at(created),
                    **columns,
                },
            )
        )
        for sku, serial, reason in units:
            self.rows.append(
                (
                    models.CaseItem,
                    {
                        "case_id": case_id,
                        "sku": sku,
                        "serial": serial,
                        "quantity": 1,
                        "reason": reason,
                        "unit_price": Decimal("10"),
                    },
                )
            )
        return case_id

    def order(self, placed: str, lines: list[tuple[str, int]]) -> None:
        order_id = uuid.uuid4().hex
        self.rows.append(
            (
                models.Order,
                {
                    "id": order_id,
                    "org_id": self.org_id,
                    "order_ref": f"O-{order_id[:8]}",
                    "placed_at": at(placed),
                    "customer_name": "Ada",
                    "customer_email": "ada@example.com",
                },
            )
        )
        for position, (sku, quantity) in enumerate(lines, 1):
            self.rows.append(
                (
                    models.OrderLine,
                    {
                        "order_id": order_id,
                        "org_id": self.org_id,
                        "position": position,
                        "sku": sku,
                        "quantity": quantity,
                    },
                )
            )

    def feedback(self, case_id: str, case_type: str, rating: int) -> None:
        self.rows.append(
            (
                models.Feedback,
                {
                    "org_id": self.org_id,
                    "case_id": case_id,
                    "case_type": case_type,
                    "rating": rating,
                    "created_at": at("2026-04-01T00:00:00"),
                },
            )
        )

    def deflection(self, sku: str, created: str) -> None:
        self.rows.append(
            (
                models.Deflection,
                {
                    "org_id": self.org_id,
                    "order_id": uuid.uuid4().hex,
                    "lookup_id": uuid.uuid4().hex,
                    "sku": sku,
                    "step": 1,
                    "created_at": at(created),
                },
            )
        )


async def write(database_url: str, *writers: Writer) -> None:
    """Every writer's rows in one transaction, in the order written."""
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine).begin() as session:
            for writer in writers:
                for model, values in writer.rows:
                    await session.execute(insert(model).values(values))
    finally:
        await engine.dispose()
