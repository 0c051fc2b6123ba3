"""Every secret the database keeps encrypted, in one place: what a key rotation rewrites."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db import models
from db.secret_box import SecretBox

# Each model with the columns that hold `db.secret_box` tokens.
ENCRYPTED_COLUMNS: tuple[tuple[type[models.Base], tuple[str, ...]], ...] = (
    (models.Integration, ("api_key_encrypted", "webhook_secret_encrypted")),
    (models.WebhookSubscription, ("secret", "previous_secret")),
)


async def reencrypt_all(session: AsyncSession, box: SecretBox) -> int:
    """Re-encrypt every stored secret under the box's first key (commits), so the keys after
    it can be dropped from AFTERSALES_SECRETS_KEY. Returns how many values were rewritten;
    raises `SecretUnreadable` (nothing committed) if a value opens with no key."""
    rewritten = 0
    for model, columns in ENCRYPTED_COLUMNS:
        for row in (await session.scalars(select(model).with_for_update())).all():
            for column in columns:
                token = getattr(row, column)
                if token:
                    setattr(row, column, box.rotate(token))
                    rewritten += 1
    await session.commit()
    return rewritten
