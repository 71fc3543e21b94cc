"""Invariants of the contracts, fuzzed with hypothesis against py-evm (200 cases each): no report
lands without `quorum` distinct signer signatures; no id sequence stops a later valid report;
startedAt <= updatedAt; a proof verifies only for a leaf built from real fields in a real batch;
only the owner changes roles; a settlement pays once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from chainkit import (
    Batch,
    anomaly,
    attempt,
    deploy,
    feed_config,
    next_time,
    outcome,
    report,
    transact,
    travel,
    unlocked,
    view,
)
from eth_account import Account
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3 import Web3
from web3.contract import Contract

from oracle.chain.encoding import AnomalyFields, PriceReport, sign_report, signature_blob
from oracle.chain.merkle import MerkleTree

PROPERTY = settings(max_examples=200, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
HORIZON = 86_400


@contextmanager
def _isolated(w3: Web3) -> Iterator[None]:
    """Each example starts from the same chain state."""
    tester = w3.provider.ethereum_tester  # type: ignore[attr-defined]
    snapshot = tester.take_snapshot()
    try:
        yield
    finally:
        tester.revert_to_snapshot(snapshot)


# ------------------------------------------------------------------ quorum

COMMITTEES = [(1, 1), (3, 2), (4, 2), (7, 3), (5, 5)]


@dataclass
class Committee:
    """One signer set and quorum, deployed twice: the production feed and the variant whose
    signature loop is plain Solidity. The report and its signatures are made once (every example
    starts from the same state, so the same report is new each time)."""

    feeds: list[Contract]
    signers: list[LocalAccount]  # signers[0] is also the transmitter `insider`
    quorum: int
    report: PriceReport
    forged: PriceReport  # the same round with another answer
    _cache: dict[tuple[str, str, bool], bytes]

    def signature(self, w3: Web3, feed: Contract, key: LocalAccount, forged: bool) -> bytes:
        slot = (feed.address, key.address, forged)
        if slot not in self._cache:
            body = self.forged if forged else self.report
            self._cache[slot] = sign_report(key, body, w3.eth.chain_id, feed.address)
        return self._cache[slot]


@pytest.fixture
def committees(w3: Web3, oracle_key: LocalAccount) -> tuple[list[Committee], LocalAccount, LocalAccount,
                                                            list[LocalAccount]]:
    insider, outsider = unlocked(w3, 2)
    strangers = [Account.create() for _ in range(10)]
    now = next_time(w3)
    rep = report(now // 3600, now)
    forged = PriceReport(rep.feed, rep.round_id, rep.answer + 1, rep.observed_at, rep.curve_hash)
    made = []
    for n, quorum in COMMITTEES:
        signers = [insider] + [Account.create() for _ in range(n - 1)]
        args = (oracle_key.address, feed_config(), [s.address for s in signers], quorum,
                [insider.address, outsider.address])
        feeds = [deploy(w3, name, oracle_key.address, *args)
                 for name in ("EnergyPriceOracle", "EnergyPriceOraclePlainLoop")]
        made.append(Committee(feeds, signers, quorum, rep, forged, {}))
    return made, insider, outsider, strangers


@PROPERTY
@given(which=st.integers(0, len(COMMITTEES) - 1), by_insider=st.booleans(),
       picks=st.lists(st.integers(0, 9), max_size=8), forged=st.booleans())
def test_no_report_lands_without_quorum_distinct_signer_signatures(
        w3: Web3, committees: tuple[list[Committee], LocalAccount, LocalAccount, list[LocalAccount]], which: int,
        by_insider: bool, picks: list[int], forged: bool) -> None:
    made, insider, outsider, strangers = committees
    c = made[which]
    n = len(c.signers)
    transmitter = insider if by_insider else outsider
    keys = [c.signers[p] if p < n else strangers[p] for p in picks]  # picks n..9: not a signer
    counted = [0] * by_insider + [p for p in picks if p < n]
    lands = (all(p < n for p in picks) and not (forged and picks) and len(set(counted)) == len(counted)
             and len(counted) >= c.quorum)
    with _isolated(w3):
        calls = [feed.functions.transmitSigned(*c.report.args(), signature_blob(
            [c.signature(w3, feed, k, forged) for k in keys])) for feed in c.feeds]
        outcomes = [outcome(call, transmitter.address) for call in calls]
        assert outcomes[0] == outcomes[1]  # the assembly loop and the plain one agree
        assert (outcomes[0] is None) == lands, (outcomes[0], picks, by_insider, c.quorum)
        if not picks:  # the quorum-of-one path too
            single = outcome(c.feeds[0].functions.transmit(*c.report.args()), transmitter.address)
            assert (single is None) == (by_insider and c.quorum == 1), single
        if lands:
            transact(w3, calls[0], transmitter.address)
            assert view(c.feeds[0].functions.latestRoundData())[1] == c.report.answer
        else:
            assert outcomes[0] in {"EPO: too few signatures", "EPO: signature by a non-signer",
                                   "EPO: duplicate signature"}


# ------------------------------------------------------------------ ids and times

ID_CHOICES = ["current", "previous", "next", "latest+1", "2^32-1", "2^32", "2^64-1", "2^80-1", "zero", "far past"]
step = st.tuples(st.sampled_from(["feed", "batch", "schedule"]), st.sampled_from(ID_CHOICES),
                 st.integers(-4000, 120), st.integers(0, 7200))


def _pick_id(choice: str, now: int, latest: int, interval: int) -> int:
    return {"current": now // interval, "previous": now // interval - 1, "next": now // interval + 1,
            "latest+1": latest + 1, "2^32-1": 2**32 - 1, "2^32": 2**32, "2^64-1": 2**64 - 1, "2^80-1": 2**80 - 1,
            "zero": 0, "far past": 1}[choice]


def _step(w3: Web3, contracts: dict[str, Contract], sender: str, latest: dict[str, int], kind: str, choice: str,
          offset: int) -> None:
    """One report with the chosen id; ``latest`` (the model of the latest ids) follows it."""
    now = next_time(w3)
    if kind == "feed":
        rid = _pick_id(choice, now, latest[kind], 3600) % 2**80
        call = contracts["feed"].functions.transmit(*report(rid, max(now + offset, 0)).args())
    elif kind == "batch":
        rid = _pick_id(choice, now, latest[kind], 3600) % 2**64
        root = Batch(max(rid, 1), [anomaly("m", max(now - 7200, 1))]).tree.root
        call = contracts["registry"].functions.recordBatch(rid, root, 1, 3, max(now + offset, 0) % 2**32, [], [])
    else:
        rid = _pick_id(choice, now, latest[kind], 1) % 2**64
        rid = rid + offset % HORIZON if choice == "latest+1" else rid
        call = contracts["grid"].functions.commitSchedule(rid, Web3.keccak(b"{}"), 0, 0, 0, 0, b"{}")
    if attempt(w3, call, sender) is None:
        latest[kind] = rid


@pytest.fixture
def contracts(feed: Contract, registry: Contract, grid: Contract) -> dict[str, Contract]:
    return {"feed": feed, "registry": registry, "grid": grid}


@PROPERTY
@given(steps=st.lists(step, min_size=1, max_size=3))
def test_no_id_sequence_stops_a_later_valid_report(w3: Web3, contracts: dict[str, Contract],
                                                   oracle_key: LocalAccount,
                                                   steps: list[tuple[str, str, int, int]]) -> None:
    """Whatever ids a (compromised) reporter sends, once the planning horizon has passed the
    daemon's next interval is accepted by every contract, and each contract's latest id is the
    last one it accepted."""
    me = oracle_key.address
    feed, registry, grid = contracts["feed"], contracts["registry"], contracts["grid"]
    with _isolated(w3):
        latest = {"feed": 0, "batch": 0, "schedule": 0}
        for kind, choice, offset, wait in steps:
            _step(w3, contracts, me, latest, kind, choice, offset)
            travel(w3, wait)
        assert [view(feed.functions.latestRound()), view(registry.functions.latestBatchId()),
                view(grid.functions.latestInterval())] == list(latest.values())
        now = travel(w3, HORIZON + 3600 + 61)
        assert outcome(feed.functions.transmit(*report(now // 3600, now).args()), me) is None
        assert outcome(Batch(now // 3600, [anomaly("m", now - 60)]).record(registry, now), me) is None
        start = now // 3600 * 3600
        assert outcome(grid.functions.commitSchedule(start, Web3.keccak(b"{}"), 0, 0, 0, 0, b"{}"), me) is None


@PROPERTY
@given(offsets=st.lists(st.tuples(st.integers(-3600, 120), st.integers(0, 1800)), min_size=1, max_size=3))
def test_started_at_never_exceeds_updated_at(w3: Web3, contracts: dict[str, Contract], oracle_key: LocalAccount,
                                             offsets: list[tuple[int, int]]) -> None:
    """Observations from an hour old to two minutes ahead of the block: every recorded round
    has startedAt <= updatedAt, the observation clamped to the block time."""
    feed = contracts["feed"]
    with _isolated(w3):
        latest, landed = 0, 0
        for offset, wait in offsets:
            now = travel(w3, wait)
            rid = max(latest + 1, (now + offset) // 3600)
            reason = attempt(w3, feed.functions.transmit(*report(rid, now + offset).args()), oracle_key.address)
            if offset > 60:
                assert reason == "EPO: observation in the future"
            if reason is None:
                latest, landed = rid, landed + 1
                _, _, started, updated, _ = view(feed.functions.getRoundData(rid))
                assert started == min(now + offset, updated) and updated == now
        if landed:
            _, _, started, updated, _ = view(feed.functions.latestRoundData())
            assert 0 < started <= updated <= next_time(w3)


# ------------------------------------------------------------------ Merkle proofs

fields = st.builds(AnomalyFields, st.binary(min_size=32, max_size=32), st.integers(1, 10**9),
                   st.binary(min_size=32, max_size=32), st.integers(1, 4), st.integers(-2**63, 2**63 - 1))
MUTATIONS = ["none", "meter", "ts", "kind", "severity", "score", "other proof", "short proof", "long proof",
             "other batch", "no proof"]


@PROPERTY
@given(anomalies=st.lists(fields, min_size=1, max_size=12, unique_by=lambda a: a.meter), data=st.data())
def test_a_proof_verifies_only_for_real_fields_in_a_real_batch(w3: Web3, contracts: dict[str, Contract],
                                                               oracle_key: LocalAccount,
                                                               anomalies: list[AnomalyFields], data: Any) -> None:
    registry = contracts["registry"]
    now = next_time(w3)
    with _isolated(w3):
        batch = Batch(view(registry.functions.latestBatchId()) + 1, anomalies)
        transact(w3, batch.record(registry, now), oracle_key.address)
        tree = MerkleTree([a.leaf(batch.batch_id) for a in anomalies])
        i = data.draw(st.integers(0, len(anomalies) - 1))
        mutation = data.draw(st.sampled_from(MUTATIONS))
        a, proof, bid = list(anomalies[i].as_struct()), tree.proof(i), batch.batch_id
        if mutation in ("meter", "kind"):
            a[0 if mutation == "meter" else 2] = bytes(x ^ 1 for x in a[0 if mutation == "meter" else 2])
        elif mutation == "ts":
            a[1] += 1
        elif mutation == "severity":
            a[3] = a[3] % 4 + 1
        elif mutation == "score":
            a[4] = a[4] + 1 if a[4] < 2**63 - 1 else a[4] - 1
        elif mutation == "other proof" and len(anomalies) > 1:
            proof = tree.proof((i + 1) % len(anomalies))
        elif mutation == "short proof":
            proof = proof[1:]
        elif mutation == "long proof":
            proof = [*proof, tree.root]
        elif mutation == "other batch":
            bid += 1
        elif mutation == "no proof":
            proof = []
        reason = outcome(registry.functions.verifyAnomaly(bid, tuple(a), proof), oracle_key.address)
        real = tuple(a) == anomalies[i].as_struct() and bid == batch.batch_id and proof == tree.proof(i)
        if mutation == "other proof" and len(anomalies) > 1:
            real = False
        # a mutated severity above the batch's highest, or an unknown batch, fail earlier, with their reason
        assert (reason is None) == real, (mutation, reason)
        if not real:
            assert reason in {"AR: bad Merkle proof", "AR: unknown batch", "AR: anomaly severity out of range"}


# ------------------------------------------------------------------ roles

@dataclass
class Roles:
    owner: LocalAccount
    stranger: LocalAccount
    heir: LocalAccount
    contracts: dict[str, Contract]


@pytest.fixture
def roles(w3: Web3, contracts: dict[str, Contract], deployed: dict[str, str], oracle_key: LocalAccount) -> Roles:
    stranger, heir = unlocked(w3, 2)
    owner = oracle_key.address
    token = deploy(w3, "TestToken", owner, "T", "T", 6, owner, 10**12)
    settlement = deploy(w3, "EnergySettlement", owner, owner, deployed["EnergyPriceOracle"],
                        deployed["AnomalyRegistry"], token.address, 900, [owner])
    return Roles(oracle_key, stranger, heir, {**contracts, "settlement": settlement})


ACTIONS = ["setSigners", "setTransmitters", "setReporter", "setGridReporter", "setSettler", "registerMeter",
           "transferOwnership", "acceptOwnership"]
CONTRACT_OF = {"setSigners": "feed", "setTransmitters": "feed", "setReporter": "registry",
               "setGridReporter": "grid", "setSettler": "settlement", "registerMeter": "settlement"}


def _role_view(r: Roles, action: str, target: str) -> Any:
    c = r.contracts
    if action == "setSigners":
        return view(c["feed"].functions.signers()), view(c["feed"].functions.quorum())
    if action == "setTransmitters":
        return view(c["feed"].functions.transmitters())
    if action in ("setReporter", "setGridReporter"):
        return view(c[CONTRACT_OF[action]].functions.isReporter(target))
    if action == "setSettler":
        return view(c["settlement"].functions.isSettler(target))
    if action == "registerMeter":
        return view(c["settlement"].functions.meterOwner(b"\x07" * 32))
    return [(k, view(v.functions.owner()), view(v.functions.pendingOwner())) for k, v in c.items()]


def _action(r: Roles, action: str, target: str, which: str) -> Any:
    c = r.contracts
    if action == "setSigners":
        return c["feed"].functions.setSigners([target], 1)
    if action == "setTransmitters":
        return c["feed"].functions.setTransmitters([target])
    if action in ("setReporter", "setGridReporter"):
        return c[CONTRACT_OF[action]].functions.setReporter(target, True)
    if action == "setSettler":
        return c["settlement"].functions.setSettler(target, True)
    if action == "registerMeter":
        return c["settlement"].functions.registerMeter(b"\x07" * 32, target)
    if action == "transferOwnership":
        return c[which].functions.transferOwnership(target)
    return c[which].functions.acceptOwnership()


@PROPERTY
@given(steps=st.lists(st.tuples(st.sampled_from(["owner", "stranger", "heir"]), st.sampled_from(ACTIONS),
                                st.sampled_from(["stranger", "heir"]),
                                st.sampled_from(["feed", "registry", "grid", "settlement"])),
                      min_size=1, max_size=2))
def test_only_the_owner_changes_roles(w3: Web3, roles: Roles, steps: list[tuple[str, str, str, str]]) -> None:
    r = roles
    people = {"owner": r.owner.address, "stranger": r.stranger.address, "heir": r.heir.address}
    with _isolated(w3):
        owner_of = {k: r.owner.address for k in r.contracts}
        pending: dict[str, str | None] = {k: None for k in r.contracts}
        for who, action, target_name, which in steps:
            sender, target = people[who], people[target_name]
            which = CONTRACT_OF.get(action, which)
            before = _role_view(r, action, target)
            reason = attempt(w3, _action(r, action, target, which), sender)
            if action == "acceptOwnership":
                allowed = pending[which] == sender
                assert (reason is None) == allowed, reason
                if allowed:
                    owner_of[which], pending[which] = sender, None
                else:
                    assert reason == "Owned: caller is not the pending owner"
            else:
                allowed = owner_of[which] == sender
                assert (reason is None) == allowed, reason
                if not allowed:
                    assert reason == "Owned: caller is not the owner"
                    assert _role_view(r, action, target) == before
                elif action == "transferOwnership":
                    pending[which] = target
        for k, contract in r.contracts.items():
            assert view(contract.functions.owner()) == owner_of[k]


# ------------------------------------------------------------------ settlement

@dataclass
class Desk:
    settlement: Contract
    token: Contract
    people: dict[str, str]


BUYER_METER, SELLER_METER = b"\x0b" * 32, b"\x05" * 32


@pytest.fixture
def desk(w3: Web3, contracts: dict[str, Contract], deployed: dict[str, str], oracle_key: LocalAccount) -> Desk:
    owner = oracle_key.address
    settler, buyer, seller, stranger = (a.address for a in unlocked(w3, 4))
    token = deploy(w3, "TestToken", owner, "T", "T", 6, buyer, 10**12)
    settlement = deploy(w3, "EnergySettlement", owner, owner, deployed["EnergyPriceOracle"],
                        deployed["AnomalyRegistry"], token.address, 10 * HORIZON, [settler])
    transact(w3, settlement.functions.registerMeter(BUYER_METER, buyer), owner)
    transact(w3, settlement.functions.registerMeter(SELLER_METER, seller), owner)
    transact(w3, token.functions.approve(settlement.address, 10**9), buyer)
    transact(w3, settlement.functions.deposit(10**9), buyer)
    now = next_time(w3)
    transact(w3, contracts["feed"].functions.transmit(*report(now // 3600, now, price=0.25).args()), owner)
    return Desk(settlement, token, {"settler": settler, "buyer": buyer, "seller": seller, "stranger": stranger})


@PROPERTY
@given(tries=st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["settler", "buyer", "seller", "stranger"]),
                                st.integers(1, 5_000_000)), min_size=1, max_size=4))
def test_a_settlement_pays_once(w3: Web3, desk: Desk, tries: list[tuple[int, str, int]]) -> None:
    d = desk
    seller, buyer = d.people["seller"], d.people["buyer"]
    with _isolated(w3):
        paid: dict[int, int] = {}
        start_seller = view(d.token.functions.balanceOf(seller))
        start_escrow = view(d.settlement.functions.escrowOf(buyer))
        for trade, who, wh in tries:
            trade_id = Web3.keccak(text=f"trade {trade}")
            quote = view(d.settlement.functions.quote(wh))[0]
            reason = attempt(w3, d.settlement.functions.settle(trade_id, BUYER_METER, SELLER_METER, wh),
                             d.people[who])
            if who in ("seller", "stranger"):
                assert reason == "SET: unauthorised settler"
            elif trade in paid:
                assert reason == "SET: trade already settled"
            elif quote > start_escrow - sum(paid.values()):
                assert reason == "SET: insufficient escrow"
            else:
                assert reason is None
                paid[trade] = quote
            assert view(d.settlement.functions.isSettled(trade_id)) == (trade in paid)
        assert view(d.token.functions.balanceOf(seller)) - start_seller == sum(paid.values())
        assert start_escrow - view(d.settlement.functions.escrowOf(buyer)) == sum(paid.values())
