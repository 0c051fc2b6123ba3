"""A case's timeline as the technician reads it: every entry (the workers see the whole
history, as the JSON API shows it to them), with who did it in words: a console user by
their name, an API key by its kind of organisation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from db.queries import CaseBundle
from presentation.formatting import human_datetime, humanise

_KINDS = {
    "repair_center": "Repair center",
    "retailer": "Retailer",
    "customer": "Customer",
    "carrier": "Carrier",
    "system": "System",
}


@dataclass(frozen=True)
class TimelineRow:
    at: str
    iso: str
    event: str
    status: str
    actor: str
    detail: list[tuple[str, str]]


def actor_words(actor: str) -> str:
    """`repair_center:<org>:Sam Rivera` → `Sam Rivera (repair center)`; `carrier` → `Carrier`."""
    kind, _, rest = actor.partition(":")
    _, _, user = rest.partition(":")
    words = _KINDS.get(kind) or humanise(kind)
    return f"{user} ({words.lower()})" if user else words


def timeline_rows(bundle: CaseBundle, today: date) -> list[TimelineRow]:
    """Newest first: the latest step is what a technician looks for."""
    return [
        TimelineRow(
            at=human_datetime(entry.at, today),
            iso=entry.at.isoformat(),
            event=humanise(entry.event),
            status=humanise(entry.status),
            actor=actor_words(entry.actor),
            detail=[(humanise(k), str(v)) for k, v in entry.detail.items() if v not in ("", None)],
        )
        for entry in reversed(bundle.timeline)
    ]
