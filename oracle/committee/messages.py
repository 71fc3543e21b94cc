"""Messages between members: a proposal, a signature, a refusal; each one signed by its sender.

An envelope is ``{"kind", "sender", "sent_at", "domain", "body", "signature"}``; the signature
is EIP-191 (``personal_sign``) over the canonical JSON of everything but the signature. The
domain (chain id, feed address) keeps a message for one feed from being replayed to another;
``sent_at`` bounds its age. Who may send is decided by the caller (the on-chain signer set).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import asdict, dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_utils import is_address, to_checksum_address

from oracle.chain.encoding import PriceReport, curve_hash, feed_id, to_answer
from oracle.committee.errors import MessageRefused

KINDS = ("propose", "signature", "refusal")
MAX_CURVE_POINTS = 2000


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


@dataclass(frozen=True)
class Domain:
    """Which feed the committee reports to: messages and report signatures are bound to it."""

    chain_id: int
    feed: str  # EnergyPriceOracle address
    zone: str
    decimals: int

    def as_dict(self) -> dict[str, Any]:
        return {"chain_id": self.chain_id, "feed": self.feed.lower(), "zone": self.zone}


@dataclass(frozen=True)
class Proposal:
    """A leader's price report for one round, with what a follower needs to check it."""

    round_id: int
    interval_start: int  # unix seconds of the round's market interval
    price: float
    observed_at: int
    curve: tuple[float, ...]

    def report(self, domain: Domain) -> PriceReport:
        return PriceReport(feed=feed_id(domain.zone), round_id=self.round_id,
                           answer=to_answer(self.price, domain.decimals),
                           observed_at=self.observed_at,
                           curve_hash=curve_hash(list(self.curve), domain.decimals))

    def as_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body["curve"] = list(self.curve)
        return body

    @classmethod
    def from_dict(cls, body: Any) -> Proposal:
        """Parse a proposal body; MessageRefused names the field and value that are wrong."""
        if not isinstance(body, dict):
            raise MessageRefused("body: not an object")
        unknown = set(body) - {"round_id", "interval_start", "price", "observed_at", "curve"}
        if unknown:
            raise MessageRefused(f"body: unknown fields {sorted(unknown)}")
        ints = {}
        for name, bound in (("round_id", 2**32), ("interval_start", 2**32), ("observed_at", 2**32)):
            value = body.get(name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < bound:
                raise MessageRefused(f"body.{name}: {value!r} is not an integer in (0, {bound})")
            ints[name] = value
        price = body.get("price")
        if isinstance(price, bool) or not isinstance(price, int | float) or price != price \
                or price in (float("inf"), float("-inf")):
            raise MessageRefused(f"body.price: {price!r} is not a finite number")
        curve = body.get("curve")
        if not isinstance(curve, list) or len(curve) > MAX_CURVE_POINTS:
            raise MessageRefused(f"body.curve: not a list of at most {MAX_CURVE_POINTS} numbers")
        for i, point in enumerate(curve):
            if isinstance(point, bool) or not isinstance(point, int | float) or point != point \
                    or point in (float("inf"), float("-inf")):
                raise MessageRefused(f"body.curve[{i}]: {point!r} is not a finite number")
        return cls(round_id=ints["round_id"], interval_start=ints["interval_start"],
                   price=float(price), observed_at=ints["observed_at"],
                   curve=tuple(float(p) for p in curve))


@dataclass(frozen=True)
class Opened:
    """A verified message: who sent it, what kind, its body."""

    sender: str
    kind: str
    sent_at: float
    body: Any


def seal(account: LocalAccount, kind: str, body: Any, domain: Domain, now: float) -> dict[str, Any]:
    """An envelope of ``body`` signed by ``account``."""
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not one of {KINDS}")
    unsigned = {"kind": kind, "sender": account.address, "sent_at": round(now, 3),
                "domain": domain.as_dict(), "body": body}
    signed = Account.sign_message(encode_defunct(_canonical(unsigned)), account.key)
    return {**unsigned, "signature": signed.signature.to_0x_hex()}


def open_envelope(envelope: Any, domain: Domain, senders: Collection[str], now: float,
                  max_age_s: float, kinds: Collection[str] = KINDS) -> Opened:
    """Check an envelope: shape, domain, age, and that its signature is by its sender, one of
    ``senders`` (checksum addresses). MessageRefused says which check failed."""
    if not isinstance(envelope, dict):
        raise MessageRefused("message: not a JSON object")
    missing = {"kind", "sender", "sent_at", "domain", "body", "signature"} - set(envelope)
    if missing:
        raise MessageRefused(f"message: missing {sorted(missing)}")
    kind, sender, sent_at = envelope["kind"], envelope["sender"], envelope["sent_at"]
    if kind not in kinds:
        raise MessageRefused(f"kind: {kind!r} is not one of {sorted(kinds)}")
    if not isinstance(sender, str) or not is_address(sender):
        raise MessageRefused(f"sender: {sender!r} is not an address")
    sender = to_checksum_address(sender)
    if sender not in senders:
        raise MessageRefused(f"sender: {sender} is not in the feed's signer set")
    if envelope["domain"] != domain.as_dict():
        raise MessageRefused(f"domain: {envelope['domain']!r} is not this feed "
                             f"({domain.as_dict()})")
    if isinstance(sent_at, bool) or not isinstance(sent_at, int | float) \
            or abs(now - sent_at) > max_age_s:
        raise MessageRefused(f"sent_at: {sent_at!r} is more than {max_age_s:g}s from now "
                             f"({now:.0f})")
    signature = envelope["signature"]
    unsigned = {k: envelope[k] for k in ("kind", "sender", "sent_at", "domain", "body")}
    try:
        signer = Account.recover_message(encode_defunct(_canonical({**unsigned,
                                                                    "sender": envelope["sender"]})),
                                         signature=signature)
    except Exception as err:  # malformed hex, bad length, invalid point: all one refusal
        raise MessageRefused(f"signature: not a valid signature ({type(err).__name__})") from err
    if signer != sender:
        raise MessageRefused(f"signature: made by {signer}, not by the sender {sender}")
    return Opened(sender=sender, kind=kind, sent_at=float(sent_at), body=envelope["body"])
