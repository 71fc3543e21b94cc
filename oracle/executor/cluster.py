"""The Dask executor: groups as tasks on a ``distributed`` cluster.

Dask does the scheduling, the data transfer and the recovery: when a worker dies, the
scheduler runs the tasks it held again on another worker (up to the scheduler's
``distributed.scheduler.allowed-failures`` times per task); past that, or when the
scheduler cannot be reached, the tick stops with ``ComputeUnavailable`` (retried on the next
run). Workers must be able to import ``oracle``
and ``models`` (the same version as the daemon) and reach the database; the tasks name it
without its password, which each worker reads from its own secrets (:mod:`oracle.executor.stores`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from oracle.errors import ComputeUnavailable, ConfigError
from oracle.redact import redact

log = logging.getLogger("oracle.executor")
G = TypeVar("G")
R = TypeVar("R")


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as err:
        raise ConfigError("setting 'compute.scheduler' needs Dask: install the 'cluster' extra "
                          "(pip install 'solchain-oracle[cluster]')", key="compute.scheduler",
                          value=None) from err
    return distributed


class DaskExecutor:
    """Groups as tasks on the Dask scheduler at ``address`` (or on a given ``client``)."""

    name = "dask"

    def __init__(self, address: str | None = None, *, client: Any = None,
                 connect_timeout_s: float = 10.0) -> None:
        if address is None and client is None:
            raise ConfigError("DaskExecutor needs a scheduler address or a client",
                              key="compute.scheduler", value=None)
        self.address = address
        self.connect_timeout_s = connect_timeout_s
        self._client = client
        self._owns_client = client is None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        """The connected client (connects on first use)."""
        with self._lock:
            if self._client is None:
                distributed = _distributed()
                try:
                    self._client = distributed.Client(self.address, timeout=self.connect_timeout_s,
                                                      set_as_default=False)
                except (OSError, TimeoutError) as err:
                    raise ComputeUnavailable(
                        f"cannot reach the Dask scheduler at {redact(str(self.address))}: {err}; "
                        "the tick is retried on the next run") from err
            return self._client

    def map_groups(self, fn: Callable[[G], R], groups: Sequence[G]) -> list[R]:
        if not groups:
            return []
        distributed = _distributed()
        client = self.client
        futures = client.map(fn, list(groups), pure=False)
        try:
            return list(client.gather(futures))
        except distributed.KilledWorker as err:
            raise ComputeUnavailable(
                f"Dask lost the workers running {fn.__name__} too often ({err}); the tick is "
                "retried on the next run") from err
        except (OSError, distributed.TimeoutError) as err:
            raise ComputeUnavailable(f"lost the Dask scheduler during {fn.__name__}: {err}; the "
                                     "tick is retried on the next run") from err
        finally:
            client.cancel(futures)  # nothing is kept on the cluster after the stage

    def close(self) -> None:
        with self._lock:
            if self._client is not None and self._owns_client:
                self._client.close()
            self._client = None
