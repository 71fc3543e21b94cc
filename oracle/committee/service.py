"""The committee as the daemon sees it: built once from ``[committee]`` by ``app.build``, used
by the price stage (``publish``) and by the API (``router``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from eth_account.signers.local import LocalAccount
from prometheus_client import CollectorRegistry
from sqlalchemy.engine import Engine
from web3 import Web3

from oracle.chain.contracts import bind
from oracle.committee.messages import Domain, Proposal
from oracle.committee.metrics import CommitteeMetrics
from oracle.committee.peers import PeerClient
from oracle.committee.policy import SigningPolicy, View
from oracle.committee.proposer import Proposer, Transmit
from oracle.committee.rounds import RoundResult, RoundRunner
from oracle.committee.schedule import LeaderSchedule
from oracle.committee.signerset import OnChainSigners
from oracle.config import CommitteeSettings
from oracle.errors import ConfigError
from oracle.store.audit import AuditLog


class Committee:
    def __init__(self, settings: CommitteeSettings, account: LocalAccount, w3: Web3,
                 feed_address: str, zone: str, decimals: int, interval_s: int, engine: Engine,
                 view: View, registry: CollectorRegistry, *,
                 clock: Callable[[], float] = time.time, client: PeerClient | None = None,
                 poll_s: float = 0.25) -> None:
        members = {m.address: m.base_url for m in settings.members}
        if account.address not in members:
            raise ConfigError(f"committee.members does not list this daemon's key "
                              f"{account.address}", key="committee.members")
        self.settings = settings
        self.account = account
        self.clock = clock
        self.interval_s = interval_s
        self.feed = bind(w3, "EnergyPriceOracle", feed_address)
        self.domain = Domain(chain_id=w3.eth.chain_id, feed=self.feed.address, zone=zone,
                             decimals=decimals)
        self.schedule = LeaderSchedule.of(list(members), settings.leader_timeout_s)
        self.signers = OnChainSigners(self.feed)
        self.metrics = CommitteeMetrics(registry)
        self.metrics.peers.set(len(members) - 1)
        self.audit = AuditLog(engine)
        self.policy = SigningPolicy(account, self.domain, self.schedule, self.feed, view, engine,
                                    settings, interval_s, self.metrics, clock)
        self.client = client or PeerClient(timeout_s=min(5.0, settings.leader_timeout_s))
        peers = {a: url for a, url in members.items() if a != account.address}
        self.proposer = Proposer(account, self.domain, self.policy, self.client, peers,
                                 settings, self.audit, self.metrics, clock)
        self.runner = RoundRunner(account.address, self.schedule, self.feed, self.proposer,
                                  self.audit, clock, poll_s)

    def publish(self, interval_start: datetime, price: float, curve: list[float],
                transmit: Transmit) -> RoundResult:
        """Take part in the interval's round: lead it when it is this member's turn (proposing
        ``price`` and ``curve`` observed now), else wait for it to land or for the next turn."""
        start = int(interval_start.timestamp())
        round_id = start // self.interval_s
        signer_set = self.signers.current()
        if signer_set.quorum != self.settings.quorum:
            raise ConfigError(f"committee.quorum is {self.settings.quorum} but the feed's "
                              f"quorum() is {signer_set.quorum}: run `oracle contracts "
                              "set-signers` or fix the setting", key="committee.quorum",
                              value=self.settings.quorum)

        def proposal() -> Proposal:
            return Proposal(round_id=round_id, interval_start=start, price=float(price),
                            observed_at=int(self.clock()), curve=tuple(curve))

        return self.runner.run(proposal, round_id, float(start), transmit, signer_set.quorum)

    def router(self) -> Any:
        from oracle.committee.routes import committee_router

        return committee_router(self)

    def close(self) -> None:
        self.proposer.close()
        self.client.close()
