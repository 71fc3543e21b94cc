"""Transaction manager: the public entry over the tx store and the four steps.

    txm = TxManager(w3, store, account, settings.chain)  # store: oracle.store.outbox.Outbox
    txm.resync()          # on start: re-send what was in flight, nonce from the chain
    txm.queue(report_id, kind, "EnergyPriceOracle", "transmit", args, interval_start, payload)
    txm.tick()            # confirmer, resender/bumper, broadcaster (with the nonce tracker)
    txm.status(report_id) # pending / broadcast / confirmed / failed

The Chainlink txmgr way: ``queue`` writes the report (with its calldata) to the outbox and is
idempotent on ``report_id``; each step reads the store, asks the chain and writes back, so a
crash, a lost reply or an RPC outage leaves nothing that the next ``tick`` cannot finish.
``tick`` never raises for the RPC: it stops where the endpoints failed and says so in
``TickSummary.deferred``. Alerts (stuck at the fee cap, key low on funds) are raised once on
each change of state.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3

from oracle.chain.artifacts import load_artifact
from oracle.chain.attempts import Attempts, read
from oracle.chain.broadcaster import Broadcaster
from oracle.chain.confirmer import Confirmer
from oracle.chain.nonces import NonceTracker
from oracle.chain.provider import RpcPool
from oracle.chain.resender import Resender
from oracle.chain.summary import Alert, TickSummary
from oracle.chain.txstore import TxStore
from oracle.config import ChainSettings
from oracle.errors import ConfigError, RpcUnavailable

log = logging.getLogger(__name__)

__all__ = ["Alert", "TickSummary", "TxManager"]


class TxManager:
    """Land queued reports on chain exactly once; see the module docstring."""

    def __init__(self, w3: Web3, store: TxStore, account: LocalAccount,
                 settings: ChainSettings, contract_addresses: dict[str, str] | None = None) -> None:
        self.w3 = w3
        self.store = store
        self.account = account
        self.settings = settings
        self.chain_id = store.chain_id
        self._addresses = contract_addresses
        self.ops = Attempts(w3, store, account, settings)
        self.tracker = NonceTracker(self.ops)
        self.confirmer = Confirmer(self.ops, self.tracker)
        self.resender = Resender(self.ops, self.confirmer)
        self.broadcaster = Broadcaster(self.ops, self.confirmer, self.tracker)
        self._stuck: set[str] = set()
        self._low_balance = False
        self._low_wei = int(settings.low_balance_eth * 10**18)

    # ------------------------------------------------------------------ public

    def queue(self, report_id: str, kind: str, contract: str, fn_name: str, args: list[Any],
              interval_start: datetime, payload: dict[str, Any] | None = None) -> bool:
        """Write a report to the outbox; False (and nothing written) if it is already there."""
        known = self._addresses if self._addresses is not None else self.store.contract_addresses()
        if contract not in known:
            raise ConfigError(f"contract {contract!r} has no address on chain {self.chain_id}: "
                              "run `oracle contracts deploy`", key="contract", value=contract)
        data = self.w3.eth.contract(abi=load_artifact(contract).abi).encode_abi(fn_name, args=args)
        return self.store.add_report(
            report_id=report_id, kind=kind, contract=contract, interval_start=interval_start,
            payload={"to": known[contract], "fn": fn_name, "data": data,
                     "report": payload or {}},
            payload_hash=keccak(hexstr=data).hex())

    def status(self, report_id: str) -> str | None:
        """The report's outbox status, or None when it was never queued."""
        report = self.store.report(report_id)
        return report.status if report else None

    def resync(self) -> int | None:
        """Re-send what was in flight, then take the next nonce from the chain; returns it
        (None when the RPC failed meanwhile: the next ``tick`` does the same)."""
        summary = TickSummary()
        try:
            self.resender.run(self.ops.head(), summary)
            return self.tracker.sync(summary)
        except RpcUnavailable as err:
            log.warning("resync at start-up deferred to the next run: %s", err)
            return None

    def tick(self) -> TickSummary:
        """One pass: confirm, re-send and bump, broadcast; stops early (``deferred``) when the
        RPC fails, keeping everything for the next pass."""
        summary = TickSummary()
        try:
            if isinstance(self.w3.provider, RpcPool):
                self.w3.provider.probe()
            head = self.ops.head()
            summary.balance_wei = int(read(lambda: self.w3.eth.get_balance(self.account.address),
                                           "balance"))
            self.confirmer.run(head, summary)
            self.resender.run(head, summary)
            self.broadcaster.run(head, summary)
        except RpcUnavailable as err:
            summary.deferred = str(err)
            log.info("transaction manager stopped early, resuming next run: %s", err)
        self._raise_alerts(summary)
        return summary

    # ------------------------------------------------------------------ alerts

    def _raise_alerts(self, summary: TickSummary) -> None:
        if summary.balance_wei is not None or summary.out_of_funds:
            low = summary.out_of_funds or (summary.balance_wei or 0) < self._low_wei
            if low != self._low_balance:
                held = f"key {self.account.address} holds {summary.balance_wei} wei"
                if not low:
                    alert = Alert("balance_ok", self.account.address, held)
                elif (summary.balance_wei or 0) < self._low_wei:
                    alert = Alert("balance_low", self.account.address,
                                  f"{held}, below {self._low_wei} (chain.low_balance_eth)")
                else:
                    alert = Alert("balance_low", self.account.address,
                                  f"{held}: not enough for its next report")
                summary.alerts.append(alert)
                self._low_balance = low
        summary.balance_low = self._low_balance
        if summary.deferred is None:  # a partial pass has not looked at every transaction
            for report_id in sorted(summary.stuck - self._stuck):
                summary.alerts.append(Alert("tx_stuck", report_id, (
                    f"report {report_id}: not mined and its fees are at the cap "
                    f"({self.settings.max_fee_per_gas_gwei} gwei)")))
            for report_id in sorted(self._stuck - summary.stuck):
                summary.alerts.append(Alert("tx_unstuck", report_id,
                                            f"report {report_id}: moving again"))
            self._stuck = set(summary.stuck)
        for alert in summary.alerts:
            log.warning("alert %s: %s", alert.kind, alert.message)
