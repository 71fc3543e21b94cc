"""Encoding and Merkle trees: deterministic, validated, and consistent with the contracts."""

from __future__ import annotations

import math

import pytest
from eth_abi import encode
from eth_utils import keccak
from hypothesis import given
from hypothesis import strategies as st

from oracle.chain.encoding import (
    LEAF_TYPEHASH,
    LEAF_TYPES,
    anomaly_fields,
    anomaly_leaf,
    compact_signature,
    curve_hash,
    schedule_bytes,
    signature_blob,
    to_answer,
)
from oracle.chain.merkle import MerkleTree, verify
from oracle.errors import SourceDataInvalid


def test_to_answer_scales_and_rounds_half_even() -> None:
    assert to_answer(0.12345678, 8) == 12_345_678
    assert to_answer(0.125, 2) == 12
    assert to_answer(0.135, 2) == 14


@pytest.mark.parametrize("bad", [math.nan, math.inf, "0.1", None, True, 1e60])
def test_to_answer_refuses_bad_prices(bad: object) -> None:
    with pytest.raises(SourceDataInvalid, match="price"):
        to_answer(bad, 8)  # type: ignore[arg-type]


def test_curve_hash_names_the_bad_point() -> None:
    with pytest.raises(SourceDataInvalid, match=r"curve\[1\]"):
        curve_hash([0.1, math.nan], 8)
    assert curve_hash([0.1, 0.2], 8) != curve_hash([0.2, 0.1], 8)


@pytest.mark.parametrize(("args", "field"), [
    (("m1", 1_700_000_000, "spike", "extreme", 1.0), "severity"),
    (("m1", 0, "spike", "low", 1.0), "ts"),
    (("m1", 2**64, "spike", "low", 1.0), "ts"),
    (("m1", 1_700_000_000, "", "low", 1.0), "type"),
    (("m1", 1_700_000_000, "spike", "low", math.nan), "score"),
    (("m1", 1_700_000_000, "spike", "low", 1e17), "score"),
])
def test_anomaly_fields_name_the_bad_field_and_meter(args: tuple[object, ...], field: str) -> None:
    with pytest.raises(SourceDataInvalid, match=field) as info:
        anomaly_fields(*args)  # type: ignore[arg-type]
    assert info.value.row == "m1"


def test_anomaly_leaf_is_double_hashed_typed_and_bound_to_its_batch() -> None:
    fields = anomaly_fields("m1", 1_700_000_000, "spike", "high", 0.9)
    values = [LEAF_TYPEHASH, 7, keccak(text="m1"), 1_700_000_000, keccak(text="spike"), 3, 900]
    assert fields.leaf(7) == keccak(keccak(encode(list(LEAF_TYPES), values)))
    assert anomaly_leaf(7, "m1", 1_700_000_000, "spike", "high", 0.9) == fields.leaf(7) != fields.leaf(8)
    for bad in (0, 2**64, True):
        with pytest.raises(SourceDataInvalid, match="batch_id"):
            fields.leaf(bad)


def test_schedule_bytes_is_canonical_and_refuses_nan() -> None:
    assert schedule_bytes({"b": 1, "a": [1.5]}) == b'{"a":[1.5],"b":1}'
    with pytest.raises(SourceDataInvalid):
        schedule_bytes({"a": math.nan})


@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=40))
def test_every_leaf_proves_and_a_wrong_leaf_does_not(leaves: list[bytes]) -> None:
    tree = MerkleTree(leaves)
    for i, leaf in enumerate(leaves):
        assert verify(leaf, tree.proof(i), tree.root)
    outsider = b"\xff" * 31 + b"\x00"
    if outsider not in leaves:
        assert not verify(outsider, tree.proof(0), tree.root)


def test_merkle_rejects_bad_leaves_and_indexes() -> None:
    with pytest.raises(ValueError, match="leaf 1"):
        MerkleTree([b"\x00" * 32, b"\x01"])
    with pytest.raises(IndexError):
        MerkleTree([b"\x00" * 32]).proof(1)
    assert MerkleTree([]).root == b"\x00" * 32


def test_compact_signature_matches_the_eip_2098_vector() -> None:
    r = bytes.fromhex("9328da16089fcba9bececa81663203989f2df5fe1faa6291a45381c81bd17f76")
    s = bytes.fromhex("139c6d6b623b42da56557e5e734a43dc83345ddfadec52cbe24d0cc64f550793")
    compact = compact_signature(r + s + bytes([28]))
    assert compact == r + bytes.fromhex(
        "939c6d6b623b42da56557e5e734a43dc83345ddfadec52cbe24d0cc64f550793")
    assert compact_signature(r + s + bytes([27])) == r + s


@pytest.mark.parametrize(("sig", "match"), [
    (b"\x01" * 64, "64 bytes"),
    (b"\x01" * 64 + bytes([29]), "v=29"),
    (b"\x01" * 32 + b"\x80" + b"\x00" * 31 + bytes([27]), "high s"),
])
def test_compact_signature_refuses_non_canonical_signatures(sig: bytes, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        compact_signature(sig)


def test_signature_blob_is_64_bytes_per_signature_and_names_a_bad_one() -> None:
    good = b"\x01" * 64 + bytes([27])
    assert len(signature_blob([good, good])) == 128
    with pytest.raises(ValueError, match="signature 1 is 64 bytes"):
        signature_blob([good, good[:64]])
