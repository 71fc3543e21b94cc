"""`oracle demo --rpc-url` against `npx hardhat node`: it deploys what the node lacks, runs
seven ticks (06:00 to midday), and the feed answers through the AggregatorV3Interface ABI."""

from __future__ import annotations

from pathlib import Path

import pytest
from web3 import Web3

from oracle.cli import main
from oracle.store.deployments import Deployments
from oracle.store.engine import make_engine

pytestmark = [pytest.mark.hardhat, pytest.mark.slow]

# AggregatorV3Interface (contracts/src/AggregatorV3Interface.sol), the read side only.
AGGREGATOR_V3_ABI = [
    {"type": "function", "name": "latestRoundData", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "roundId", "type": "uint80"}, {"name": "answer", "type": "int256"},
                 {"name": "startedAt", "type": "uint256"},
                 {"name": "updatedAt", "type": "uint256"},
                 {"name": "answeredInRound", "type": "uint80"}]},
    {"type": "function", "name": "decimals", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "uint8"}]},
]


def test_demo_on_a_hardhat_node_publishes_a_readable_price(
        hardhat_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = tmp_path / "demo"
    # The replay starts at 06:00: ticks up to midday, when solar surplus makes a trade.
    code = main(["demo", "--rpc-url", hardhat_url, "--ticks", "7", "--meters", "40",
                 "--data-dir", str(data_dir)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "has no address" not in out + err
    w3 = Web3(Web3.HTTPProvider(hardhat_url))
    known = Deployments(make_engine(f"sqlite:///{data_dir / 'oracle.db'}")).addresses(
        w3.eth.chain_id)
    assert set(known) >= {"EnergyPriceOracle", "AnomalyRegistry", "GridOptimizationRegistry"}
    feed = w3.eth.contract(address=Web3.to_checksum_address(known["EnergyPriceOracle"]),
                           abi=AGGREGATOR_V3_ABI)
    round_id, answer, _, updated, answered = feed.functions.latestRoundData().call()
    assert round_id > 0 and answered == round_id and updated > 0
    assert answer > 0
