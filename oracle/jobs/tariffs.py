"""The grid document's tariffs for the forward price curve, fetched again once they are old."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from oracle.sources.schemas import GridIn


class TariffBook:
    """Retail (import) and feed-in (export) tariffs from the backend's grid document, fetched
    on first use and again once older than ``max_age`` (``pricing.tariff_max_age_s``) by
    ``clock`` (or when that clock went back, as a replay's may). A failed fetch raises (the
    backend's error) and keeps nothing."""

    def __init__(self, fetch: Callable[[], GridIn], max_age: timedelta,
                 clock: Callable[[], datetime]) -> None:
        self._fetch = fetch
        self.max_age = max_age
        self._clock = clock
        self._tariffs: dict[str, float] | None = None
        self._fetched_at: datetime | None = None

    def current(self) -> dict[str, float]:
        """``{"import_price": ..., "export_price": ...}``, at most ``max_age`` old."""
        now = self._clock()
        if (self._tariffs is None or self._fetched_at is None
                or now - self._fetched_at >= self.max_age or now < self._fetched_at):
            grid = self._fetch()
            self._tariffs = {"import_price": grid.import_price, "export_price": grid.export_price}
            self._fetched_at = now
        return self._tariffs

    @property
    def fetched_at(self) -> datetime | None:
        return self._fetched_at
