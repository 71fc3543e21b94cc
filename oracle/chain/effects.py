"""Is a report's effect already on chain? One check per report kind, by the contracts' views.

Asked before an attempt is called dropped or a report failed: a report whose round, batch or
interval is on chain with its own content has landed, whichever transaction carried it. When
the contracts change their views, this is the module to adapt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from web3 import Web3
from web3.contract import Contract

from oracle.chain.contracts import bind
from oracle.chain.rpc_errors import REVERT_ERRORS, RpcErrorKind, classify
from oracle.chain.txstore import StoredReport
from oracle.errors import RpcUnavailable

log = logging.getLogger(__name__)


class Effect(Enum):
    LANDED = "landed"  # on chain with this report's content
    SUPERSEDED = "superseded"  # its slot holds other content, or a newer one closed it
    ABSENT = "absent"  # not there, and it still can be


@dataclass(frozen=True)
class Finding:
    effect: Effect
    detail: str = ""


def _view(call: Callable[[], Any]) -> Any | None:
    """A view's value; None when it reverts (no such round/batch/interval)."""
    try:
        return call()
    except REVERT_ERRORS:
        return None
    except Exception as err:
        if classify(err) is RpcErrorKind.EXECUTION_REVERTED:
            return None
        if isinstance(err, RpcUnavailable):
            raise
        raise RpcUnavailable(f"effect check failed: {type(err).__name__}: {err}") from err


def _slot(found: Any, mine: Any, newest: Any, key: int, what: str) -> Finding:
    if found is not None:
        if found == mine:
            return Finding(Effect.LANDED, f"{what} {key} is on chain")
        return Finding(Effect.SUPERSEDED, f"{what} {key} holds other content on chain")
    if newest is not None and int(newest) >= key:
        return Finding(Effect.SUPERSEDED, f"{what} {key} is older than the newest on chain "
                                          f"({newest})")
    return Finding(Effect.ABSENT, f"{what} {key} is not on chain")


def _price(feed: Contract, args: dict[str, Any]) -> Finding:
    round_id = int(args["roundId"])
    data = _view(lambda: feed.functions.getRoundData(round_id).call())
    return _slot(int(data[1]) if data is not None else None, int(args["answer"]),
                 _view(lambda: feed.functions.latestRound().call()), round_id, "round")


def _anomaly(registry: Contract, args: dict[str, Any]) -> Finding:
    batch_id = int(args["batchId"])
    batch = _view(lambda: registry.functions.getBatch(batch_id).call())
    return _slot(bytes(batch[0]) if batch is not None else None, bytes(args["root"]),
                 _view(lambda: registry.functions.latestBatchId().call()), batch_id, "batch")


def _schedule(registry: Contract, args: dict[str, Any]) -> Finding:
    start = int(args["intervalStart"])
    commitment = _view(lambda: registry.functions.getCommitment(start).call())
    return _slot(bytes(commitment[0]) if commitment is not None else None,
                 bytes(args["scheduleHash"]),
                 _view(lambda: registry.functions.latestInterval().call()), start, "interval")


def price_round(feed: Contract, round_id: int, answer: int) -> Finding:
    """Where price round ``round_id`` stands on the feed (the committee asks before leading)."""
    return _price(feed, {"roundId": round_id, "answer": answer})


CHECKS: dict[str, Callable[[Contract, dict[str, Any]], Finding]] = {
    "price": _price, "anomaly": _anomaly, "optimization": _schedule,
}


def find(w3: Web3, report: StoredReport) -> Finding:
    """Where the report stands on chain (ABSENT for a kind without a check)."""
    check = CHECKS.get(report.kind)
    if check is None:
        return Finding(Effect.ABSENT, f"no effect check for {report.kind!r} reports")
    contract = bind(w3, report.contract, report.payload["to"])
    try:
        _, args = contract.decode_function_input(report.payload["data"])
        return check(contract, dict(args))
    except (KeyError, ValueError, TypeError) as err:  # calldata or views of another version
        log.warning("report %s: no effect check (%s: %s)", report.report_id,
                    type(err).__name__, err)
        return Finding(Effect.ABSENT, f"effect not checkable: {type(err).__name__}")
