"""The payload codec: AES-GCM per payload, key id in the metadata, keys that rotate, and
plain payloads (histories from before the codec) passed through."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Annotated

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.converter import DataConverter

from domain.common import Customer
from temporal_client import (
    ENCRYPTED_ENCODING,
    KEY_ID_METADATA,
    EncryptionCodec,
    PayloadConverter,
    PayloadKeyError,
    adapter_for,
    make_data_converter,
)
from tests.support import PAYLOAD_KEY

OLD = ("old", bytes(range(32)))
NEW = ("new", bytes(range(100, 132)))
ADA = Customer(name="Ada Lovelace", email="ada@example.com")


def plain(value: object) -> Payload:
    return DataConverter(payload_converter_class=PayloadConverter).payload_converter.to_payload(
        value
    )


async def test_every_payload_is_sealed_under_the_first_key() -> None:
    codec = EncryptionCodec([NEW, OLD])
    original = plain(ADA)
    (sealed,) = await codec.encode([original])
    assert sealed.metadata["encoding"] == ENCRYPTED_ENCODING == b"binary/encrypted"
    assert sealed.metadata[KEY_ID_METADATA] == b"new"
    assert set(sealed.metadata) == {"encoding", KEY_ID_METADATA}  # the type is sealed too
    for secret in (b"Ada", b"ada@example.com", b"json/plain", b"Customer"):
        assert secret not in sealed.data
    (opened,) = await codec.decode([sealed])
    assert opened == original
    # A fresh nonce each time: the same value never gives the same ciphertext.
    (again,) = await codec.encode([original])
    assert again.data != sealed.data


async def test_keys_rotate_without_losing_what_the_old_key_sealed() -> None:
    (by_old,) = await EncryptionCodec([OLD]).encode([plain(ADA)])
    rotated = EncryptionCodec([NEW, OLD])
    assert (await rotated.decode([by_old]))[0] == plain(ADA)
    (by_new,) = await rotated.encode([plain(ADA)])
    assert by_new.metadata[KEY_ID_METADATA] == b"new"
    # Once the old key is dropped, what it sealed is unreadable, and says which key it needs.
    with pytest.raises(PayloadKeyError, match="key id 'old'"):
        await EncryptionCodec([NEW]).decode([by_old])


async def test_an_altered_or_relabelled_payload_is_refused() -> None:
    codec = EncryptionCodec([NEW, OLD])
    (sealed,) = await codec.encode([plain(ADA)])
    flipped = Payload(metadata=dict(sealed.metadata), data=sealed.data[:-1] + b"\0")
    with pytest.raises(PayloadKeyError, match="does not authenticate"):
        await codec.decode([flipped])
    # The key id is authenticated data: the same bytes claimed under another key fail.
    relabelled = Payload(
        metadata={**dict(sealed.metadata), KEY_ID_METADATA: b"old"}, data=sealed.data
    )
    with pytest.raises(PayloadKeyError, match="does not authenticate"):
        await codec.decode([relabelled])


async def test_plain_payloads_from_before_the_codec_pass_through() -> None:
    old_history_payload = plain({"rma_id": "RMA-2026-00000001", "refund": "10.00"})
    (passed,) = await EncryptionCodec([NEW]).decode([old_history_payload])
    assert passed == old_history_payload


async def test_the_converter_round_trips_workflow_values_and_failures() -> None:
    converter = make_data_converter(PAYLOAD_KEY)
    encoded = await converter.encode([ADA, Decimal("12.50")])
    assert {p.metadata["encoding"] for p in encoded} == {ENCRYPTED_ENCODING}
    assert b"ada@example.com" not in encoded[0].data
    assert await converter.decode(encoded, [Customer, Decimal]) == [ADA, Decimal("12.50")]
    # A failure's message can quote a customer: it travels sealed, and comes back whole.
    failure = Failure()
    await converter.encode_failure(ValueError("no refund for ada@example.com"), failure)
    assert "ada@example.com" not in str(failure)
    restored = await converter.decode_failure(failure)
    assert "no refund for ada@example.com" in str(restored)


def test_every_converter_decodes_through_one_adapter_per_type() -> None:
    # The sandbox builds a converter per workflow run: a fresh one must build no adapter.
    payload = plain(ADA)
    assert PayloadConverter().from_payloads([payload], [Customer]) == [ADA]
    built = adapter_for.cache_info().misses
    assert PayloadConverter().from_payloads([payload], [Customer]) == [ADA]
    assert adapter_for.cache_info().misses == built
    # A hint that cannot be a cache key is decoded all the same.
    unhashable = Annotated[Customer, []]
    assert PayloadConverter().from_payloads([payload], [unhashable]) == [ADA]


def test_a_converter_needs_a_well_formed_key() -> None:
    with pytest.raises(ValueError, match="not a base64 32-byte key"):
        make_data_converter(base64.b64encode(b"sixteen byte key").decode())
