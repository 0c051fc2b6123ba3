"""The API tests' shared fixtures: `world` here, so that every module reading it shares one
per backend instead of building its own."""

from tests.api.world import world

__all__ = ["world"]
