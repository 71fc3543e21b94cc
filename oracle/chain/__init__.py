"""The chain layer: keystore, report encoding, contract bindings, the RPC pool and the
transaction manager (broadcaster, confirmer, resender, nonce tracker over a tx store).

py-evm (``eth``) and py_ecc raise the interpreter's recursion limit to 100,000 when they are
imported, so deep recursion in C code (the JSON decoder, pickle, repr of nested data) would
overflow the C stack and kill the process instead of raising ``RecursionError``. Every use of
them goes through this package, so they are imported here, once, and a sane limit restored.
"""

import sys

import eth  # noqa: F401  (imported for its side effect on the recursion limit)
import py_ecc  # noqa: F401

RECURSION_LIMIT = 1000  # CPython's default; our contract calls are only a few frames deep
sys.setrecursionlimit(RECURSION_LIMIT)

from oracle.chain.summary import Alert, TickSummary  # noqa: E402
from oracle.chain.txmanager import TxManager  # noqa: E402

__all__ = ["RECURSION_LIMIT", "Alert", "TickSummary", "TxManager"]
