"""A committee of in-process daemons on a hardhat node: each member has its own SQLite file,
its own key, its own transaction manager and its own API on a loopback port, and runs the
daemon's real price stage (``oracle.jobs.price``) at each interval's start."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy.engine import Engine
from web3 import Web3
from web3.contract import Contract

from oracle import jobs
from oracle.api.probes import Readiness, create_api
from oracle.api.server import bind as bind_socket
from oracle.api.server import serve_in_thread
from oracle.app import Application, committee_part
from oracle.chain.contracts import FeedParams, bind, deploy_all, send
from oracle.chain.provider import connect
from oracle.chain.txmanager import TxManager
from oracle.config import ApiSettings, Settings
from oracle.errors import ModelError
from oracle.store.audit import AuditLog
from oracle.store.deployments import Deployments
from oracle.store.engine import make_engine, session_scope
from oracle.store.migrate import upgrade
from oracle.store.outbox import Outbox
from oracle.store.tables import AuditEntry, MarketOrder

INTERVAL_S = 3
TIMEOUT_S = 2.5
BID, OFFER = 0.30, 0.10  # one bid and one offer of 10 kWh: uniform clearing at their midpoint


class Killed(Exception):
    """Raised inside a member to end its daemon thread where it stands."""


class Recorder:
    def record_deployment(self, **_: Any) -> None:
        pass


@dataclass
class Member:
    key: LocalAccount
    engine: Engine
    app: Application
    server: Any
    port: int
    skew: float = 1.0  # this member's book: its limit prices times this
    killed: threading.Event = field(default_factory=threading.Event)
    outcomes: dict[int, Any] = field(default_factory=dict)
    thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        return self.key.address

    def kill(self) -> None:
        self.killed.set()
        self.server.should_exit = True

    def audit(self, kind: str) -> list[AuditEntry]:
        return list(AuditLog(self.engine).list(kind=kind))


@dataclass
class Committee4:
    w3: Web3
    feed: Contract
    members: list[Member]

    def by_address(self, address: str) -> Member:
        return next(m for m in self.members if m.address == address)

    def leader(self, round_id: int, attempt: int = 0) -> Member:
        committee = self.members[0].app.committee
        assert committee is not None
        return self.by_address(committee.schedule.leader(round_id, attempt))

    def upcoming_rounds(self, count: int, lead_in_s: float = 1.0) -> list[int]:
        first = int((time.time() + lead_in_s) // INTERVAL_S) + 1
        return list(range(first, first + count))

    def run(self, rounds: list[int]) -> None:
        """Every live member's price stage at each round's start, in a thread per member."""
        for member in self.members:
            for r in rounds:
                seed_orders(member, r)
        for member in self.members:
            if not member.killed.is_set():
                member.thread = threading.Thread(target=_daemon, args=(member, rounds),
                                                 daemon=True)
                member.thread.start()
        for member in self.members:
            if member.thread is not None:
                member.thread.join(timeout=60)
                assert not member.thread.is_alive(), f"{member.address} did not finish"
                member.thread = None

    def close(self) -> None:
        for member in self.members:
            member.server.should_exit = True
            member.app.close()


def _daemon(member: Member, rounds: list[int]) -> None:
    for r in rounds:
        start = r * INTERVAL_S
        while time.time() < start:
            if member.killed.is_set():
                return
            time.sleep(0.01)
        if member.killed.is_set():
            return
        try:
            member.outcomes[r] = jobs.price(member.app.tick_parts().price,
                                            datetime.fromtimestamp(start, UTC))
        except Killed:
            return
        except ModelError as err:  # the price stage wraps what it does not know
            if isinstance(err.__cause__, Killed):
                return
            raise


def seed_orders(member: Member, round_id: int) -> None:
    """This member's own stored book for the round (as ingestion would have stored it)."""
    start = datetime.fromtimestamp(round_id * INTERVAL_S, UTC)
    with session_scope(member.engine) as session:
        for side, limit in (("bid", BID), ("offer", OFFER)):
            session.merge(MarketOrder(
                order_id=f"{side}-{round_id}", interval_start=start, user_id=f"u-{side}",
                meter_id=f"m-{side}", node_id="n1", side=side, quantity_kwh=10.0,
                limit_price=round(limit * member.skew, 6), ts=start))


def honest_answer() -> int:
    return round((BID + OFFER) / 2 * 10**8)


def start_committee(url: str, tmp: Path, *, quorum: int = 2, n: int = 4,
                    skews: dict[int, float] | None = None) -> Committee4:
    """Deploy a feed with ``n`` signers and transmitters and ``quorum``; start ``n`` members."""
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30}))
    keys = [Account.create() for _ in range(n)]
    for key in keys:
        w3.provider.make_request("hardhat_setBalance", [key.address, hex(10**21)])  # type: ignore[arg-type]
    owner = keys[0]
    feed_params = FeedParams("zone-1", "committee feed", 8, 0.01, 2.0, 3600, interval_s=INTERVAL_S)
    deployed = deploy_all(w3, owner, Recorder(), feed_params)
    feed = bind(w3, "EnergyPriceOracle", deployed["EnergyPriceOracle"])
    addresses = [k.address for k in keys]
    send(w3, owner, feed.functions.setSigners(addresses, quorum))
    send(w3, owner, feed.functions.setTransmitters(addresses))
    sockets = [bind_socket("127.0.0.1", 0) for _ in keys]
    ports = [s.getsockname()[1] for s in sockets]
    committee = {"members": [{"address": a, "base_url": f"http://127.0.0.1:{p}"}
                             for a, p in zip(addresses, ports, strict=True)],
                 "quorum": quorum, "tolerance_percent": 1.0, "leader_timeout_s": TIMEOUT_S,
                 "max_message_age_s": 10.0}
    members = []
    for i, (key, sock, port) in enumerate(zip(keys, sockets, ports, strict=True)):
        db = tmp / f"member{i}.db"
        settings = Settings(database_url=f"sqlite:///{db}", data_dir=tmp / f"member{i}",
                            chain={"rpc_urls": [url], "confirmations": 1, "finality_depth": 2,
                                   "tx_timeout_s": 10},
                            scheduler={"interval_s": INTERVAL_S}, pricing={"heartbeat_s": 1},
                            committee=committee)
        engine = make_engine(settings.database_url)
        upgrade(engine)
        Deployments(engine).record_deployment(
            chain_id=w3.eth.chain_id, name="EnergyPriceOracle", address=feed.address,
            tx_hash="0x", block_number=0, artifact_sha256="")
        chain_w3 = connect(settings.chain)
        txm = TxManager(chain_w3, Outbox(engine, chain_w3.eth.chain_id, key.address), key,
                        settings.chain, contract_addresses={"EnergyPriceOracle": feed.address})
        app = Application(settings=settings, engine=engine, backend=None,  # type: ignore[arg-type]
                          weather=None, plausibility=None,  # type: ignore[arg-type]
                          w3=chain_w3, account=key, txm=txm)
        app.committee = committee_part(app)
        api = create_api(app.metrics, Readiness(), [app.committee.router()])
        server = serve_in_thread(api, sock, ApiSettings())
        members.append(Member(key, engine, app, server, port,
                              skew=(skews or {}).get(i, 1.0 + 0.001 * i)))
    return Committee4(w3, feed, members)


def feed_transactions(c: Committee4, from_block: int) -> list[tuple[str, int, int]]:
    """(sender, round id, status) of every transaction to the feed since ``from_block``."""
    out = []
    for number in range(from_block, c.w3.eth.block_number + 1):
        for tx in c.w3.eth.get_block(number, full_transactions=True)["transactions"]:
            if tx["to"] != c.feed.address:
                continue
            fn, args = c.feed.decode_function_input(tx["input"])
            if fn.fn_name in ("transmit", "transmitSigned"):
                status = c.w3.eth.get_transaction_receipt(tx["hash"])["status"]
                out.append((tx["from"], int(args["roundId"]), int(status)))
    return out


def on_chain(c: Committee4, round_id: int) -> int | None:
    try:
        return int(c.feed.functions.getRoundData(round_id).call()[1])
    except Exception:
        return None


def kill_at_transmit(member: Member, *, after: bool) -> Callable[[], None]:
    """Make ``member`` die when its leader has the signatures: before sending the report
    (``after=False``) or right after it is on chain (``after=True``). Returns the undo."""
    txm = member.app.txm
    assert txm is not None
    original = txm.queue

    def queue(*args: Any, **kwargs: Any) -> bool:
        if not after:
            member.kill()
            raise Killed
        original(*args, **kwargs)
        txm.tick()
        member.kill()
        raise Killed

    txm.queue = queue  # type: ignore[method-assign]
    return lambda: setattr(txm, "queue", original)
