"""Data in: the backend REST client, the weather client, payload schemas and plausibility rules.

The reference backend and its replay dataset live in ``oracle.simulator``, apart from the
client that speaks to any backend.
"""

from oracle.sources.client import BackendClient, ReadingsPage
from oracle.sources.http import RetryPolicy
from oracle.sources.schemas import Batch, GridIn, MeterIn, OrderIn, ReadingIn, Rejected
from oracle.sources.validation import DuplicateTracker, PlausibilityRules, check_readings
from oracle.sources.weather import WeatherClient, WeatherHour, location_key

__all__ = [
    "BackendClient",
    "Batch",
    "DuplicateTracker",
    "GridIn",
    "MeterIn",
    "OrderIn",
    "PlausibilityRules",
    "ReadingIn",
    "ReadingsPage",
    "Rejected",
    "RetryPolicy",
    "WeatherClient",
    "WeatherHour",
    "check_readings",
    "location_key",
]
