"""The chain layer: keystore, report encoding, contract bindings, the RPC pool and the
transaction manager (broadcaster, confirmer, resender, nonce tracker over a tx store)."""

from oracle.chain.summary import Alert, TickSummary
from oracle.chain.txmanager import TxManager

__all__ = ["Alert", "TickSummary", "TxManager"]
