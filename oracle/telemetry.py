"""Prometheus metrics of the daemon, on a registry of their own (one per Application)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        ProcessCollector(registry=r)  # process_cpu_seconds_total, process_resident_memory_bytes...
        PlatformCollector(registry=r)  # python_info
        self.job_duration = Histogram("oracle_job_duration_seconds", "Duration of scheduled jobs",
                                      ["job"], registry=r,
                                      buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300))
        self.job_failures = Counter("oracle_job_failures_total", "Jobs that ended in an error",
                                    ["job", "error"], registry=r)
        self.job_runs = Counter("oracle_job_runs_total", "Jobs run, by outcome", ["job", "outcome"],
                                registry=r)
        self.last_tick = Gauge("oracle_last_successful_tick_timestamp_seconds",
                               "Unix time of the last tick that completed", registry=r)
        self.price_round = Gauge("oracle_last_price_round", "Last published price round id",
                                 ["zone"], registry=r)
        self.price = Gauge("oracle_last_price", "Last published price (currency/kWh)", ["zone"],
                           registry=r)
        self.price_updated = Gauge("oracle_last_price_timestamp_seconds",
                                   "Unix time of the last published price", ["zone"], registry=r)
        self.pending_tx = Gauge("oracle_pending_transactions", "Reports not yet confirmed on chain",
                                registry=r)
        self.gas_spent = Counter("oracle_gas_used_total", "Gas used by confirmed transactions",
                                 ["kind"], registry=r)
        self.signer_balance = Gauge("oracle_signer_balance_wei", "Balance of the transmitter account",
                                    registry=r)
        self.balance_low = Gauge("oracle_signer_balance_low",
                                 "1 while the transmitter holds less than chain.low_balance_eth "
                                 "or cannot pay for its next report", registry=r)
        self.stuck_tx = Gauge("oracle_stuck_transactions",
                              "Reports whose transaction is not mined with its fees at the cap",
                              registry=r)
        self.quarantined = Counter("oracle_quarantined_rows_total", "Rows quarantined at ingestion",
                                   ["source"], registry=r)
        self.model_errors = Counter("oracle_model_errors_total", "Model runs that failed", ["model"],
                                    registry=r)
        self.forecast_coverage = Gauge(
            "oracle_forecast_coverage", "Share (0-1) of the zone's one-step demand forecasts "
            "observed in the past 2 days whose actual fell inside the stored interval",
            ["level"], registry=r)
        self.forecast_bias = Gauge(
            "oracle_forecast_bias_kwh", "Mean actual minus forecast of the zone's one-step demand "
            "forecasts observed in the past 2 days (after the live correction)", registry=r)
        self.forecast_bias_correction = Gauge(
            "oracle_forecast_bias_correction_kwh", "Bias the live calibration adds to the zone's "
            "next one-step demand forecast", registry=r)
        self.forecast_interval_scale = Gauge(
            "oracle_forecast_interval_scale", "Factor the live calibration applies to the zone's "
            "one-step demand interval half-widths", ["level"], registry=r)
        self.alerts = Counter("oracle_alerts_total", "Monitoring alerts (drift, degradation)",
                              ["kind"], registry=r)
