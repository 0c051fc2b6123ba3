"""db.secret_box: secrets at rest open with the configured keys only, rotate to the first
key, and never show in a message or a repr."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.fernet import Fernet, InvalidToken

from db.secret_box import SecretBox, SecretUnreadable
from settings import DEV_PAYLOAD_KEY

OLD = "old:" + base64.b64encode(bytes(range(32))).decode()
NEW = "new:" + base64.b64encode(bytes(range(32, 64))).decode()
SECRET = "sk_live_0123456789abcdef"


def test_a_secret_is_stored_as_ciphertext_and_opens_again() -> None:
    box = SecretBox.from_setting(OLD)
    token = box.encrypt(SECRET)
    assert SECRET not in token
    assert box.decrypt(token) == SECRET
    # A fresh IV each time: equal secrets cannot be told apart in the database.
    assert box.encrypt(SECRET) != token


def test_a_wrong_key_opens_nothing_and_says_nothing() -> None:
    token = SecretBox.from_setting(OLD).encrypt(SECRET)
    with pytest.raises(SecretUnreadable) as refused:
        SecretBox.from_setting(NEW).decrypt(token)
    assert SECRET not in str(refused.value) and token not in str(refused.value)
    assert refused.value.__cause__ is None and refused.value.__suppress_context__


def test_tampered_or_foreign_text_is_unreadable() -> None:
    box = SecretBox.from_setting(OLD)
    token = box.encrypt(SECRET)
    flipped = token[:-5] + ("A" if token[-5] != "A" else "B") + token[-4:]
    for bad in (flipped, SECRET, "", "é"):
        with pytest.raises(SecretUnreadable):
            box.decrypt(bad)


def test_rotation_keeps_old_secrets_readable_and_moves_them_to_the_new_key() -> None:
    old_token = SecretBox.from_setting(OLD).encrypt(SECRET)
    rotating = SecretBox.from_setting(f"{NEW},{OLD}")
    assert rotating.decrypt(old_token) == SECRET  # the old key still opens
    new_token = rotating.rotate(old_token)
    # Re-encrypted under the first key: the old one may now be dropped.
    assert SecretBox.from_setting(NEW).decrypt(new_token) == SECRET
    with pytest.raises(SecretUnreadable):
        SecretBox.from_setting(OLD).decrypt(new_token)
    # New secrets go under the first key.
    assert SecretBox.from_setting(NEW).decrypt(rotating.encrypt("x" * 8)) == "x" * 8


def test_the_payload_key_does_not_open_stored_secrets() -> None:
    """The same bytes as another setting's key give another key here (HKDF with a purpose),
    so a key pasted into the wrong variable cannot open what the other one protects."""
    same_bytes = DEV_PAYLOAD_KEY
    token = SecretBox.from_setting(same_bytes).encrypt(SECRET)
    raw_key = base64.urlsafe_b64encode(base64.b64decode(same_bytes.split(":")[1]))
    with pytest.raises(InvalidToken):
        Fernet(raw_key).decrypt(token.encode())


def test_keys_never_show() -> None:
    box = SecretBox.from_setting(OLD)
    assert OLD.split(":")[1] not in repr(box) and "old" not in repr(box)
    with pytest.raises(ValueError, match="AFTERSALES_SECRETS_KEY entry 1") as refused:
        SecretBox.from_setting("bad:" + "c2hvcnQ=")
    assert "c2hvcnQ" not in str(refused.value)


def test_a_fingerprint_tells_secrets_apart_only_with_the_key() -> None:
    box = SecretBox.from_setting(OLD)
    mark = box.fingerprint(SECRET)
    assert mark == SecretBox.from_setting(OLD).fingerprint(SECRET)
    assert mark != box.fingerprint(SECRET + "x")
    assert SECRET not in mark
    # Keyed: no bare hash of a guess matches it, and another key gives another mark.
    assert mark != hashlib.sha256(SECRET.encode()).hexdigest()
    assert mark != SecretBox.from_setting(NEW).fingerprint(SECRET)
    # The first key makes it, as it encrypts.
    assert SecretBox.from_setting(f"{OLD},{NEW}").fingerprint(SECRET) == mark
