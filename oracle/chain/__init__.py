"""The chain layer: keystore, report encoding, contract bindings, transaction manager."""

from oracle.chain.txmanager import TickSummary, TxManager

__all__ = ["TickSummary", "TxManager"]
