"""The executor protocol, the in-process executor and the choice between executors."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from oracle.config import ComputeSettings

G = TypeVar("G")
R = TypeVar("R")


class Executor(Protocol):
    """Runs one function over groups of work; results come back in the groups' order.

    ``fn`` must be a module-level function and each group picklable (a cluster ships them to
    other processes); a group's work is idempotent, so it may run more than once when a
    worker is lost. An exception raised by ``fn`` is raised by ``map_groups``."""

    name: str

    def map_groups(self, fn: Callable[[G], R], groups: Sequence[G]) -> list[R]: ...

    def close(self) -> None: ...


class InProcessExecutor:
    """Every group in this process, one after the other."""

    name = "in-process"

    def map_groups(self, fn: Callable[[G], R], groups: Sequence[G]) -> list[R]:
        return [fn(g) for g in groups]

    def close(self) -> None:
        pass


def executor_for(settings: ComputeSettings) -> Executor:
    """In-process unless ``settings.scheduler`` names a Dask scheduler (connected lazily)."""
    if settings.scheduler is None:
        return InProcessExecutor()
    from oracle.executor.cluster import DaskExecutor

    return DaskExecutor(settings.scheduler, connect_timeout_s=settings.connect_timeout_s)
