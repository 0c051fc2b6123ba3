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

# One pass over the text: an alternation of the secrets' shapes, each alternative with one
# group, the part kept (`m.lastindex` names the alternative that matched).
_SHAPES = (
    # The customer's token in a tracking URL (a route's template is kept) or document link.
    r"(/track/)(?!\{token\})[^/?#\s\"'<>]+",
    r"([?&]token=)[^&#\s\"'<>]+",
    # Credentials sent as a header and quoted back (an echoed request, a client's repr).
    r"\b((?:Bearer|bearer|Basic)\s+)[A-Za-z0-9._~+/=-]{12,}",
    # The password of a URL (an SMTP or database URL in an error message).
    r"([A-Za-z][A-Za-z0-9+.-]*://[^:/@\s\"']*:)[^@\s\"']+(?=@)",
    # Ours (api.auth.KEY_PREFIX), Standard Webhooks and Stripe signing secrets, Stripe and
    # EasyPost API keys.
    r"(?<![A-Za-z0-9])(ask_)[A-Za-z0-9_-]+",
    r"(?<![A-Za-z0-9])(whsec_)[A-Za-z0-9+/=_-]+",
    r"\b((?:sk|rk)_(?:live|test)_)[A-Za-z0-9]+",
    r"\b(EZ[AT]K)[A-Za-z0-9]+",
    # A bare random secret (see _random_looking), last: the shapes above win where they
    # start at the same place.
    r"(?<![A-Za-z0-9_-])()[A-Za-z0-9_-]{24,}(?![A-Za-z0-9_-])",
)
_SECRETS = re.compile("|".join(_SHAPES))
_BARE = len(_SHAPES)
# Shorter text holds no secret of ours but a configured one (checked by value).
_SHORTEST = 16

# domain.ids.new_tracking_token: 24 random bytes in URL-safe base64.
TRACKING_TOKEN_LENGTH = 32

# Fields whose value is a secret whatever it looks like.
_SECRET_FIELD = re.compile(
    r"(^|_|-)(authorization|cookie|password|passwd|secret|token|api_?key|key)$", re.IGNORECASE
)
# What the log pipeline itself adds: nothing to look for there.
_OURS = frozenset({"timestamp", "level", "logger", "trace_id", "span_id"})


def _random_looking(run: str) -> bool:
    """A tracking token (32 URL-safe base64 characters) mixes upper and lower case letters,
    most often digits too, in a long run without separators. Case ids, workflow ids, UUIDs,
    trace and request ids have no lower case or no upper case; a class name in a traceback
    has no digits and few capitals (one a word). A run of a token's length with both cases
    is taken for one, digits or not."""
    upper = sum(map(str.isupper, run))
    lower = sum(map(str.islower, run))
    if len(run) == TRACKING_TOKEN_LENGTH and upper and lower:
        return True
    if upper < 3 or lower < 3:
        return False
    return upper >= 0.3 * (upper + lower) or any(map(str.isdigit, run))


def _replace(match: re.Match[str]) -> str:
    if match.lastindex == _BARE:
        return REDACTED if _random_looking(match.group(0)) else match.group(0)
    return f"{match.group(match.lastindex or 0)}{REDACTED}"


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
        if len(text) < _SHORTEST:
            return text
        return _SECRETS.sub(_replace, text)

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
            key: value
            if key in _OURS
            else REDACTED
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
