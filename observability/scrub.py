"""What no log line and no exported span may carry: tracking tokens, API keys, webhook and
provider secrets, passwords in URLs, and the secrets this process was configured with.

One scrubber for every sink (the JSON and console log renderers, the stdlib records of
uvicorn, temporalio and the rest, the span exporter). A customer's tracking token is their
only credential and travels in URLs (`/track/<token>`, `/v1/track/<token>/…`,
`?token=<token>`); the other secrets reach a log through an exception message, a quoted
request or a URL. Patterns catch the secrets made at run time; the configured ones are
also replaced by value."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from settings import Settings

REDACTED = "[redacted]"

# Each pattern's first group is kept, the rest replaced.
_PATTERNS = (
    # The customer's token in a tracking URL or a document link.
    re.compile(r"(/track/)(?!\{token\})[^/?#\s\"'<>]+"),  # a route's template is kept
    re.compile(r"([?&]token=)[^&#\s\"'<>]+"),
    # Credentials sent as a header and quoted back (an echoed request, a client's repr).
    re.compile(r"\b((?:Bearer|bearer|Basic)\s+)[A-Za-z0-9._~+/=-]{12,}"),
    # The password of a URL (an SMTP or database URL in an error message).
    re.compile(r"([a-z][a-z0-9+.-]*://[^:/@\s\"']*:)[^@\s\"']+(?=@)", re.IGNORECASE),
    # Ours (api.auth.KEY_PREFIX), Standard Webhooks and Stripe signing secrets, Stripe and
    # EasyPost API keys.
    re.compile(r"(?<![A-Za-z0-9])(ask_)[A-Za-z0-9_-]+"),
    re.compile(r"(?<![A-Za-z0-9])(whsec_)[A-Za-z0-9+/=_-]+"),
    re.compile(r"\b((?:sk|rk)_(?:live|test)_)[A-Za-z0-9]+"),
    re.compile(r"\b(EZ[AT]K)[A-Za-z0-9]+"),
)

# A bare random secret (a tracking token is 32 URL-safe base64 characters) mixes upper and
# lower case letters, most often digits too, in a long run without separators. Case ids,
# workflow ids, UUIDs, trace and request ids have no lower case or no upper case; a class
# name in a traceback has no digits and few capitals (one a word).
# domain.ids.new_tracking_token: 24 random bytes in URL-safe base64. A run of exactly this
# length with both cases is taken for one, digits or not.
TRACKING_TOKEN_LENGTH = 32
_LONG_RUN = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{24,}(?![A-Za-z0-9_-])")


# Fields whose value is a secret whatever it looks like.
_SECRET_FIELD = re.compile(
    r"(^|_|-)(authorization|cookie|password|passwd|secret|token|api_?key|key)$", re.IGNORECASE
)


def _random_looking(match: re.Match[str]) -> str:
    run = match.group(0)
    upper = sum(c.isupper() for c in run)
    lower = sum(c.islower() for c in run)
    if len(run) == TRACKING_TOKEN_LENGTH and upper and lower:
        return REDACTED
    if upper < 3 or lower < 3:
        return run
    if any(c.isdigit() for c in run) or upper >= 0.3 * (upper + lower):
        return REDACTED
    return run


class Scrubber:
    """Replaces secrets in text, and in the values of a log event or span attributes.
    `known` are secrets this process holds (its admin key, carrier secret, the payload and
    secrets keys): replaced wherever they appear, whatever they look like."""

    def __init__(self, known: Iterable[str] = ()) -> None:
        # Longest first, so a secret containing another is replaced whole.
        self._known = sorted({k for k in known if len(k) >= 8}, key=len, reverse=True)

    def text(self, text: str) -> str:
        for secret in self._known:
            if secret in text:
                text = text.replace(secret, REDACTED)
        for pattern in _PATTERNS:
            text = pattern.sub(rf"\g<1>{REDACTED}", text)
        return _LONG_RUN.sub(_random_looking, text)

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return self.mapping(value)
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value

    def mapping(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        return {
            key: REDACTED
            if isinstance(key, str) and _SECRET_FIELD.search(key) and value not in (None, "")
            else self.value(value)
            for key, value in fields.items()
        }


def known_secrets(*values: str | None) -> list[str]:
    """The configured secrets as the scrubber should look for them: each value, and each
    entry of a key list (`ID:BASE64,ID:BASE64`), whose base64 part is the secret."""
    found: list[str] = []
    for value in values:
        if not value:
            continue
        found.append(value)
        for entry in value.split(","):
            found.append(entry.strip().rpartition(":")[2])
    return found


def scrubber_for(settings: Settings) -> Scrubber:
    """The scrubber of a process run with `settings`: it knows the secrets they hold."""
    return Scrubber(
        known_secrets(
            settings.admin_key,
            settings.carrier_secret,
            settings.payload_key,
            settings.secrets_key,
            getattr(settings, "temporal_api_key", None),
        )
    )
