"""What the CLI tells an operator matches what the API does."""

from __future__ import annotations

import subprocess
import sys

from api.auth import KEY_CACHE_SECONDS
from cli import ROOT


def test_keys_revoke_help_says_how_long_a_running_api_may_accept_the_key() -> None:
    shown = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "keys", "revoke", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    words = " ".join(shown.split())  # argparse wraps the description
    assert f"up to {KEY_CACHE_SECONDS:g} s" in words
    assert "KEY_CACHE_SECONDS" in words
