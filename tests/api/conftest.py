"""The API tests' shared fixtures: `world` here, so that every module reading it shares one
per backend instead of building its own; `sessions`, the read model opened directly."""

from tests.api.read_model import sessions
from tests.api.world import world

__all__ = ["sessions", "world"]
