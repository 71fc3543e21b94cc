"""EnergySettlement on py-evm: a real consumer of the feed and the flags, paying trades once in an
OpenZeppelin ERC-20 held in escrow, only when an authorised settler or the buyer asks."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from chainkit import Batch, anomaly, deploy, feed_config, next_time, outcome, report, transact, travel, unlocked
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD

from oracle.chain.contracts import bind
from oracle.chain.encoding import meter_key

MAX_PRICE_AGE = 900
TOKEN_DECIMALS = 6


@dataclass
class Market:
    settlement: Contract
    token: Contract
    feed: Contract
    registry: Contract
    owner: str
    settler: str
    buyer: str
    seller: str
    stranger: str


BUYER, SELLER = meter_key("buyer-meter"), meter_key("seller-meter")


def _deploy_settlement(w3: Web3, feed: str, flags: str, token: str, owner: str, settlers: list[str]) -> Contract:
    return deploy(w3, "EnergySettlement", owner, owner, feed, flags, token, MAX_PRICE_AGE, settlers)


@pytest.fixture
def market(w3: Web3, deployed: dict[str, str], oracle_key: LocalAccount) -> Market:
    owner = oracle_key.address
    settler, buyer, seller, stranger = (a.address for a in unlocked(w3, 4))
    token = deploy(w3, "TestToken", owner, "Test kWh dollar", "TKD", TOKEN_DECIMALS, buyer, 1_000 * 10**TOKEN_DECIMALS)
    settlement = _deploy_settlement(w3, deployed["EnergyPriceOracle"], deployed["AnomalyRegistry"], token.address,
                                    owner, [settler])
    transact(w3, settlement.functions.registerMeter(BUYER, buyer), owner)
    transact(w3, settlement.functions.registerMeter(SELLER, seller), owner)
    transact(w3, token.functions.approve(settlement.address, 100 * 10**TOKEN_DECIMALS), buyer)
    transact(w3, settlement.functions.deposit(100 * 10**TOKEN_DECIMALS), buyer)
    feed = bind(w3, "EnergyPriceOracle", deployed["EnergyPriceOracle"])
    transact(w3, feed.functions.transmit(*report(1, next_time(w3), price=0.25).args()), owner)
    registry = bind(w3, "AnomalyRegistry", deployed["AnomalyRegistry"])
    return Market(settlement, token, feed, registry, owner, settler, buyer, seller, stranger)


def _settle(m: Market, trade: str, wh: int = 2_000, buyer: bytes = BUYER, seller: bytes = SELLER) -> object:
    return m.settlement.functions.settle(Web3.keccak(text=trade), buyer, seller, wh)


def test_a_trade_pays_the_seller_once_at_the_feed_price(w3: Web3, market: Market) -> None:
    m = market
    amount, price, round_id = m.settlement.functions.quote(2_000).call()
    assert (amount, price, round_id) == (500_000, 25_000_000, 1)  # 2 kWh at 0.25 = 0.5 TKD
    receipt = transact(w3, _settle(m, "t1"), m.settler)
    event = m.settlement.events.Settled().process_receipt(receipt, errors=DISCARD)[0]["args"]
    assert (event["amount"], event["price"], event["roundId"], event["energyWh"]) == (500_000, 25_000_000, 1, 2_000)
    assert m.token.functions.balanceOf(m.seller).call() == 500_000
    assert m.settlement.functions.escrowOf(m.buyer).call() == 100 * 10**TOKEN_DECIMALS - 500_000
    assert m.settlement.functions.isSettled(Web3.keccak(text="t1")).call() is True
    assert outcome(_settle(m, "t1"), m.settler) == "SET: trade already settled"
    assert outcome(_settle(m, "t1", wh=1), m.buyer) == "SET: trade already settled"
    assert m.token.functions.balanceOf(m.settlement.address).call() == 100 * 10**TOKEN_DECIMALS - 500_000


def test_only_a_settler_or_the_buyer_settles(w3: Web3, market: Market) -> None:
    m = market
    assert outcome(_settle(m, "t2"), m.stranger) == "SET: unauthorised settler"
    assert outcome(_settle(m, "t2"), m.seller) == "SET: unauthorised settler"  # the payee cannot pay itself
    transact(w3, _settle(m, "t2"), m.buyer)  # the buyer meter's owner may settle its own trade
    assert m.token.functions.balanceOf(m.seller).call() == 500_000
    transact(w3, m.settlement.functions.setSettler(m.settler, False), m.owner)
    assert outcome(_settle(m, "t3"), m.settler) == "SET: unauthorised settler"


@pytest.mark.parametrize(("case", "reason"), [
    ("unknown buyer", "SET: unknown buyer meter"),
    ("unknown seller", "SET: unknown seller meter"),
    ("one meter", "SET: buyer and seller are one meter"),
    ("zero energy", "SET: energy out of range"),
    ("huge energy", "SET: energy out of range"),
    ("more than escrow", "SET: insufficient escrow"),
])
def test_bad_trades_revert_with_a_reason(market: Market, case: str, reason: str) -> None:
    m = market
    call = {"unknown buyer": _settle(m, "x", buyer=meter_key("nobody")),
            "unknown seller": _settle(m, "x", seller=meter_key("nobody")),
            "one meter": _settle(m, "x", seller=BUYER),
            "zero energy": _settle(m, "x", wh=0),
            "huge energy": _settle(m, "x", wh=10**12 + 1),
            "more than escrow": _settle(m, "x", wh=400_001)}[case]  # 250 units a Wh, 10^8 in escrow
    assert outcome(call, m.settler) == reason


def test_stale_price_and_flagged_meters_are_refused(w3: Web3, market: Market) -> None:
    m = market
    now = next_time(w3)
    batch = Batch(now // 3600, [anomaly("seller-meter", now - 100, "trading_fraud", 4)])
    transact(w3, batch.record(m.registry, now, [batch.flag(0)]), m.owner)
    assert outcome(_settle(m, "t4"), m.settler) == "SET: meter is flagged"
    transact(w3, m.registry.functions.recordBatch(batch.batch_id + 1, b"\x00" * 32, 0, 0, travel(w3, 3600), [],
                                                  [meter_key("seller-meter")]), m.owner)
    assert outcome(_settle(m, "t4"), m.settler) == "SET: stale price"  # an hour later the price is stale
    assert outcome(m.settlement.functions.quote(1000), m.settler) == "SET: stale price"
    transact(w3, m.feed.functions.transmit(*report(2, next_time(w3), price=0.25).args()), m.owner)
    assert outcome(_settle(m, "t4"), m.settler) is None


def test_an_amount_below_one_token_unit_is_refused(w3: Web3, market: Market, deployed: dict[str, str]) -> None:
    m = market
    cents = deploy(w3, "TestToken", m.owner, "Cent", "C", 2, m.buyer, 10**6)
    settlement = _deploy_settlement(w3, m.feed.address, m.registry.address, cents.address, m.owner, [m.settler])
    transact(w3, settlement.functions.registerMeter(BUYER, m.buyer), m.owner)
    transact(w3, settlement.functions.registerMeter(SELLER, m.seller), m.owner)
    transact(w3, cents.functions.approve(settlement.address, 10**6), m.buyer)
    transact(w3, settlement.functions.deposit(10**6), m.buyer)
    assert outcome(settlement.functions.settle(b"\x01" * 32, BUYER, SELLER, 39), m.settler) == \
        "SET: amount rounds to zero"  # 39 Wh at 0.25 is 0.00975: below a cent
    transact(w3, settlement.functions.settle(b"\x01" * 32, BUYER, SELLER, 40), m.settler)
    assert cents.functions.balanceOf(m.seller).call() == 1


def test_escrow_withdraws_only_what_is_there_and_admin_is_owner_only(w3: Web3, market: Market) -> None:
    m = market
    assert outcome(m.settlement.functions.withdraw(100 * 10**TOKEN_DECIMALS + 1), m.buyer) == \
        "SET: amount exceeds escrow"
    transact(w3, m.settlement.functions.withdraw(10**TOKEN_DECIMALS), m.buyer)
    assert m.token.functions.balanceOf(m.buyer).call() == 901 * 10**TOKEN_DECIMALS
    assert outcome(m.settlement.functions.withdraw(1), m.stranger) == "SET: amount exceeds escrow"
    for call in (m.settlement.functions.registerMeter(BUYER, m.stranger),
                 m.settlement.functions.setSettler(m.stranger, True)):
        assert outcome(call, m.stranger) == "Owned: caller is not the owner"
    assert outcome(m.settlement.functions.deposit(1), m.stranger) is not None  # no allowance, no tokens


def test_no_price_yet_is_refused(w3: Web3, oracle_key: LocalAccount, deployed: dict[str, str]) -> None:
    owner = oracle_key.address
    token = deploy(w3, "TestToken", owner, "T", "T", 18, owner, 10**18)
    feed = deploy(w3, "EnergyPriceOracle", owner, owner, feed_config(), [owner], 1, [owner])
    settlement = _deploy_settlement(w3, feed.address, deployed["AnomalyRegistry"], token.address, owner, [owner])
    assert outcome(settlement.functions.quote(1000), owner) == "No data present"
