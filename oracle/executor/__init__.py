"""Where the per-meter stages run: in this process (default) or on a Dask cluster.

``executor_for(settings.compute)`` gives an :class:`Executor`; its one method,
``map_groups(fn, groups)``, runs ``fn`` on every group and returns the results in order. The
stage code is the same either way; the cluster's scheduler, workers and retries are Dask's
(``[compute] scheduler = "tcp://host:8786"``; needs the ``cluster`` extra).
"""

from oracle.executor.base import Executor, InProcessExecutor, executor_for

__all__ = ["Executor", "InProcessExecutor", "executor_for"]
