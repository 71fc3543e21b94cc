"""Report encoding: price answers, EIP-712 price reports, anomaly leaves, schedule commitments.

Everything here is pure: the same inputs give the same bytes, in Python and in the contracts.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from eth_abi import encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from oracle.errors import SourceDataInvalid

SEVERITY = {"low": 1, "medium": 2, "high": 3, "critical": 4}
# Anomaly types that flag a meter on chain (AnomalyRegistry accepts a flag only for these).
FLAGGING_TYPES = frozenset({"meter_tampering", "trading_fraud"})
INT192_MAX = 2**191 - 1
ANOMALY_TYPE = ("Anomaly(uint64 batchId,bytes32 meterId,uint64 ts,bytes32 kind,uint8 severity,"
                "int64 scoreMilli)")
LEAF_TYPEHASH = keccak(text=ANOMALY_TYPE)
LEAF_TYPES = ("bytes32", "uint64", "bytes32", "uint64", "bytes32", "uint8", "int64")
# GridOptimizationRegistry's bounds on a schedule's summary figures.
MAX_ABS_COST_MILLI = 10**15
MAX_CARBON_GRAMS = 10**15
MAX_ABS_PEAK_BPS = 10_000

EIP712_DOMAIN = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
REPORT_TYPE = [
    {"name": "feed", "type": "bytes32"},
    {"name": "roundId", "type": "uint80"},
    {"name": "answer", "type": "int192"},
    {"name": "observedAt", "type": "uint32"},
    {"name": "curveHash", "type": "bytes32"},
]


def feed_id(zone: str) -> bytes:
    """The feed identifier signed in every report: keccak256 of the zone name."""
    return keccak(text=zone)


def meter_key(meter_id: str) -> bytes:
    """A meter's on-chain key: keccak256 of its id (no personal data on chain)."""
    return keccak(text=meter_id)


def to_answer(price: float, decimals: int, *, field: str = "price") -> int:
    """Scale a price to the feed's integer answer (round half to even); refuses NaN and inf."""
    if isinstance(price, bool) or not isinstance(price, int | float | Decimal) or (
            isinstance(price, float) and not math.isfinite(price)):
        raise SourceDataInvalid(f"{field}: {price!r} is not a finite number", field=field,
                                value=price)
    exact = Decimal(str(price)) * (Decimal(10) ** decimals)
    if abs(exact) > INT192_MAX:
        raise SourceDataInvalid(f"{field}: {price!r} does not fit an int192 answer", field=field,
                                value=price)
    return int(exact.to_integral_value(ROUND_HALF_EVEN))


def curve_hash(curve: list[float], decimals: int) -> bytes:
    """keccak256(abi.encode(int256[] answers)) of the forward price curve."""
    return keccak(encode(["int256[]"], [[to_answer(p, decimals, field=f"curve[{i}]")
                                         for i, p in enumerate(curve)]]))


@dataclass(frozen=True)
class PriceReport:
    """What a price round commits to; ``feed`` is :func:`feed_id` of the zone."""

    feed: bytes
    round_id: int
    answer: int
    observed_at: int
    curve_hash: bytes

    def typed_data(self, chain_id: int, verifying_contract: str) -> dict[str, Any]:
        """The EIP-712 message the signers sign."""
        return {
            "types": {"EIP712Domain": EIP712_DOMAIN, "Report": REPORT_TYPE},
            "primaryType": "Report",
            "domain": {"name": "EnergyPriceOracle", "version": "1", "chainId": chain_id,
                       "verifyingContract": verifying_contract},
            "message": {"feed": self.feed, "roundId": self.round_id, "answer": self.answer,
                        "observedAt": self.observed_at, "curveHash": self.curve_hash},
        }

    def args(self) -> list[Any]:
        """Arguments of ``transmit`` (append the signature blob for ``transmitSigned``)."""
        return [self.round_id, self.answer, self.observed_at, self.curve_hash]


def sign_report(account: LocalAccount, report: PriceReport, chain_id: int,
                verifying_contract: str) -> bytes:
    """An EIP-712 signature of the report: r || s || v, 65 bytes."""
    signed = Account.sign_typed_data(account.key,
                                     full_message=report.typed_data(chain_id, verifying_contract))
    return signed.r.to_bytes(32, "big") + signed.s.to_bytes(32, "big") + bytes([signed.v])


def compact_signature(signature: bytes) -> bytes:
    """EIP-2098: a 65-byte r || s || v signature as 64 bytes r || (y parity << 255 | s)."""
    if len(signature) != 65:
        raise ValueError(f"signature is {len(signature)} bytes, expected 65")
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    if v not in (27, 28) or s >> 255:
        raise ValueError(f"signature has v={v} or a high s: not a canonical secp256k1 signature")
    return r + ((v - 27) << 255 | s).to_bytes(32, "big")


def signature_blob(signatures: list[bytes]) -> bytes:
    """The ``transmitSigned`` signature blob: 65-byte signatures as 64-byte EIP-2098 ones."""
    for i, sig in enumerate(signatures):
        if len(sig) != 65:
            raise ValueError(f"signature {i} is {len(sig)} bytes, expected 65")
    return b"".join(compact_signature(sig) for sig in signatures)


@dataclass(frozen=True)
class AnomalyFields:
    """One anomaly as the AnomalyRegistry's ``Anomaly`` struct holds it."""

    meter: bytes  # meter_key(meter_id)
    ts: int
    kind: bytes  # keccak256 of the anomaly type
    severity: int  # 1 low .. 4 critical
    score_milli: int

    def as_struct(self) -> tuple[bytes, int, bytes, int, int]:
        """The ``Anomaly`` tuple the contract takes."""
        return (self.meter, self.ts, self.kind, self.severity, self.score_milli)

    def leaf_values(self, batch_id: int) -> list[Any]:
        """The values of the leaf, in :data:`LEAF_TYPES` order."""
        return [LEAF_TYPEHASH, batch_id, *self.as_struct()]

    def leaf(self, batch_id: int) -> bytes:
        """keccak256(keccak256(abi.encode(LEAF_TYPEHASH, batchId, fields...))): the
        StandardMerkleTree leaf; the type hash separates it from any other tree's leaves, the
        double hash from inner nodes."""
        if isinstance(batch_id, bool) or not isinstance(batch_id, int) or not 0 < batch_id < 2**64:
            raise SourceDataInvalid(f"batch_id: {batch_id!r} is not a uint64 above 0",
                                    field="batch_id", value=batch_id)
        return keccak(keccak(encode(list(LEAF_TYPES), self.leaf_values(batch_id))))


def anomaly_fields(meter_id: str, ts: int, kind: str, severity: str,
                   score: float) -> AnomalyFields:
    """Validate one detector row and encode it; the error names the field and the meter."""
    if severity not in SEVERITY:
        raise SourceDataInvalid(f"severity: {severity!r} is not one of {sorted(SEVERITY)}",
                                field="severity", row=meter_id, value=severity)
    if isinstance(ts, bool) or not isinstance(ts, int) or not 0 < ts < 2**64:
        raise SourceDataInvalid(f"ts: {ts!r} is not a unix time above 0", field="ts",
                                row=meter_id, value=ts)
    if not kind:
        raise SourceDataInvalid("type: empty anomaly type", field="type", row=meter_id,
                                value=kind)
    if not math.isfinite(score) or abs(round(score * 1000)) >= 2**63:
        raise SourceDataInvalid(f"score: {score!r} is not a finite int64 in thousandths",
                                field="score", row=meter_id, value=score)
    return AnomalyFields(meter_key(meter_id), ts, keccak(text=kind), SEVERITY[severity],
                         round(score * 1000))


def anomaly_leaf(batch_id: int, meter_id: str, ts: int, kind: str, severity: str,
                 score: float) -> bytes:
    """The Merkle leaf of one detector row in batch ``batch_id``."""
    return anomaly_fields(meter_id, ts, kind, severity, score).leaf(batch_id)


def schedule_bytes(schedule: Any) -> bytes:
    """Canonical JSON (sorted keys, no spaces) of a dispatch schedule: what is hashed and logged."""
    try:
        return json.dumps(schedule, sort_keys=True, separators=(",", ":"),
                          allow_nan=False).encode()
    except ValueError as err:
        raise SourceDataInvalid(f"schedule: not encodable as JSON: {err}", field="schedule",
                                value=None) from err


def finite(value: Any, *, field: str) -> float:
    """``value`` as a float, refused (naming the field) unless it is a finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SourceDataInvalid(f"{field}: {value!r} is not a finite number", field=field,
                                value=value)
    return float(value)


def bounded(value: Any, scale: int, low: int, high: int, *, field: str) -> int:
    """``value * scale`` rounded; refused (naming the field) unless finite and in [low, high]."""
    scaled = round(finite(value, field=field) * scale)
    if not low <= scaled <= high:
        raise SourceDataInvalid(f"{field}: {value!r} is outside the registry's range "
                                f"[{low / scale:g}, {high / scale:g}]", field=field, value=value)
    return scaled
