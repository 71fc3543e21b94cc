"""The one place where the oracle's parts are wired together from the settings.

Each part gets only its own section of the settings; secrets are handed over apart. Parts start
in order (store, sources, chain) and ``close`` stops them in reverse. The stages of
``oracle.jobs`` get their own parts from here (:meth:`Application.tick_parts`,
:meth:`Application.upkeep_parts`), never the Application itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from oracle.config import Secrets, Settings, load_secrets
from oracle.executor import Executor, InProcessExecutor, executor_for
from oracle.readiness import Readiness
from oracle.store.connect import open_store
from oracle.store.engine import ping
from oracle.store.leader import LeaderLock
from oracle.telemetry import Metrics

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount
    from web3 import Web3

    from oracle.chain.txmanager import TxManager
    from oracle.committee import Committee
    from oracle.jobs import DetectorHolder, SubmitParts, TariffBook, Tick, UpkeepParts
    from oracle.lifecycle.registry import ModelRegistry
    from oracle.sources.client import BackendClient
    from oracle.sources.validation import PlausibilityRules
    from oracle.sources.weather import WeatherClient

log = logging.getLogger("oracle.app")


@dataclass
class Application:
    """Every part, built once by :func:`build`; each job is handed only the parts it uses."""

    settings: Settings
    engine: Engine
    backend: BackendClient
    weather: WeatherClient | None
    plausibility: PlausibilityRules
    metrics: Metrics = field(default_factory=Metrics)
    readiness: Readiness = field(default_factory=Readiness)
    w3: Web3 | None = None
    account: LocalAccount | None = None
    txm: TxManager | None = None
    leader: LeaderLock | None = None
    committee: Committee | None = None  # set when [committee] lists members
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    chain_lock: threading.Lock = field(default_factory=threading.Lock)  # one tx manager pass at a time
    executor: Executor = field(default_factory=InProcessExecutor)  # where per-meter stages run
    # The stages' own state, kept between ticks by the stages (not read here): the grid's
    # tariffs (the price stage's forward curve) and the fitted anomaly detector (fitted by the
    # first detect, replaced by retrain).
    tariffs: TariffBook = field(init=False)
    detector: DetectorHolder = field(init=False)
    registry: ModelRegistry = field(init=False)  # the model versions: store rows + artifacts

    def __post_init__(self) -> None:
        from oracle.jobs import DetectorHolder, TariffBook

        self.tariffs = TariffBook(lambda: self.backend.grid(),
                                  timedelta(seconds=self.settings.pricing.tariff_max_age_s),
                                  clock=lambda: self.clock())
        self.detector = DetectorHolder()
        self.registry = model_registry(self.settings, self.engine)

    def tick_parts(self) -> Tick:
        """The tick's parts: each stage's own collaborators and settings sections."""
        from oracle import jobs

        s, interval_s, zone = self.settings, self.settings.scheduler.interval_s, self.settings.pricing.zone
        submit = self.submit_parts()
        return jobs.Tick(
            engine=self.engine, interval_s=interval_s, clock=self.clock, metrics=self.metrics,
            readiness=self.readiness,
            ingest=jobs.IngestParts(backend=self.backend, weather=self.weather,
                                    engine=self.engine, plausibility=self.plausibility,
                                    clock=self.clock, metrics=self.metrics,
                                    readiness=self.readiness),
            forecast=jobs.ForecastParts(engine=self.engine, models=s.models, zone=zone,
                                        readiness=self.readiness, metrics=self.metrics,
                                        executor=self.executor,
                                        group_size=s.compute.group_size),
            price=jobs.PriceParts(engine=self.engine, pricing=s.pricing, interval_s=interval_s,
                                  feed_decimals=s.chain.feed_decimals, tariffs=self.tariffs,
                                  txm=self.txm, committee=self.committee, submit=submit),
            detect=jobs.DetectParts(engine=self.engine, executor=self.executor,
                                    compute=s.compute, interval_s=interval_s, zone=zone,
                                    detector=self.detector, txm=self.txm),
            optimize=jobs.OptimizeParts(engine=self.engine, backend=self.backend, zone=zone,
                                        txm=self.txm),
            submit=submit,
            push=jobs.PushParts(engine=self.engine, backend=self.backend, zone=zone))

    def submit_parts(self) -> SubmitParts:
        """The submit job's parts: the transaction manager, its lock, the store, the metrics."""
        from oracle.jobs import SubmitParts

        return SubmitParts(engine=self.engine, txm=self.txm, chain_lock=self.chain_lock,
                           metrics=self.metrics, interval_s=self.settings.scheduler.interval_s,
                           clock=self.clock)

    def upkeep_parts(self) -> UpkeepParts:
        """The parts of the retrain and monitor jobs (the detector is the detect stage's)."""
        from oracle.jobs import UpkeepParts

        s = self.settings
        return UpkeepParts(engine=self.engine, registry=self.registry,
                           models=s.models, compute=s.compute, executor=self.executor,
                           detector=self.detector, clock=self.clock, metrics=self.metrics,
                           zone=s.pricing.zone)

    def close(self) -> None:
        if self.committee is not None:
            self.committee.close()
        self.executor.close()
        if self.leader is not None:
            self.leader.release()
        if self.backend is not None:
            self.backend.close()
        if self.weather is not None:
            self.weather.close()
        self.engine.dispose()


def model_registry(settings: Settings, engine: Engine) -> ModelRegistry:
    """The model registry on ``engine`` with its artifacts under ``<data_dir>/models``: the one
    place that says where they live (the daemon, the API and the model commands use it)."""
    from oracle.lifecycle.registry import ModelRegistry

    return ModelRegistry(engine, settings.data_dir / "models")


def open_registry(settings: Settings) -> ModelRegistry:
    """The store and the model registry alone, for the commands that need nothing else."""
    return model_registry(settings, open_store(settings))


DEV_FUNDING_WEI = 100 * 10**18
"""What a dev chain's signer is given when its balance is below ``DEV_MIN_BALANCE_WEI``."""
DEV_MIN_BALANCE_WEI = 10**18


def chain_account(settings: Settings, secrets: Secrets, *,
                  ephemeral_on_dev: bool = True) -> tuple[Web3, LocalAccount]:
    """Connect to the chain and unlock the key (the daemon and `oracle contracts deploy` alike);
    a dev chain without a keystore gets an ephemeral key when ``ephemeral_on_dev``, and a dev
    signer is funded when its balance is low."""
    from eth_account import Account

    from oracle.chain import keystore
    from oracle.chain.provider import connect, fund_from_dev_account, is_dev_chain

    w3 = connect(settings.chain)
    path = settings.chain.keystore_path
    if path.exists() or not ephemeral_on_dev:
        account = keystore.load(path, secrets.keystore_password)
    elif is_dev_chain(w3):
        account = Account.create()  # the embedded chain lives only as long as this process
        log.info("dev chain without a keystore: using ephemeral key %s", account.address)
    else:
        from oracle.errors import KeystoreError

        raise KeystoreError(f"no keystore at {str(path)!r}: run `oracle keys new` or `oracle keys import`")
    if is_dev_chain(w3) and w3.eth.get_balance(account.address) < DEV_MIN_BALANCE_WEI:
        fund_from_dev_account(w3, account.address, DEV_FUNDING_WEI)
    return w3, account


def chain_parts(settings: Settings, secrets: Secrets, engine: Engine, *,
                deploy_if_missing: bool) -> tuple[Web3, LocalAccount, TxManager]:
    """Connect to the chain, unlock the key, and (on a dev chain) deploy what is missing."""
    from oracle.chain.contracts import check_interval, deploy_all, deploy_params
    from oracle.chain.txmanager import TxManager
    from oracle.store.deployments import Deployments
    from oracle.store.outbox import Outbox

    w3, account = chain_account(settings, secrets)
    deployments = Deployments(engine)
    if deploy_if_missing and not deployments.addresses(w3.eth.chain_id):
        deploy_all(w3, account, deployments, deploy_params(settings))
    check_interval(w3, deployments.addresses(w3.eth.chain_id), settings.scheduler.interval_s)
    txm = TxManager(w3, Outbox(engine, w3.eth.chain_id, account.address), account, settings.chain)
    txm.resync()
    return w3, account, txm


def build(settings: Settings, secrets: Secrets | None = None, *,
          clock: Callable[[], datetime] | None = None, with_chain: bool = True,
          with_weather: bool = True, deploy_if_missing: bool | None = None,
          ticks: bool = True) -> Application:
    """Wire the application: store, backend and weather clients, chain, metrics, readiness.

    ``/readyz`` probes the database, the RPC when there is a chain, and, when the application
    ``ticks`` (the daemon, the demo; not `oracle serve`), the backend and the last tick's age."""
    from oracle.sources.client import BackendClient
    from oracle.sources.validation import PlausibilityRules
    from oracle.sources.weather import WeatherClient

    secrets = secrets if secrets is not None else load_secrets(settings)
    engine = open_store(settings, secrets)
    backend = BackendClient(settings.backend, secrets.backend_token)
    weather = WeatherClient(settings.weather) if with_weather else None
    app = Application(settings=settings, engine=engine, backend=backend, weather=weather,
                      plausibility=PlausibilityRules(interval_s=settings.scheduler.interval_s),
                      leader=LeaderLock(engine, settings.data_dir),
                      executor=executor_for(settings.compute))
    if clock is not None:
        app.clock = clock
    elif settings.scheduler.clock == "backend":
        from oracle.sources.client import replay_now

        app.clock = lambda: replay_now(settings.backend)
    if with_chain:
        dev_default = not settings.chain.rpc_urls
        app.w3, app.account, app.txm = chain_parts(
            settings, secrets, engine,
            deploy_if_missing=dev_default if deploy_if_missing is None else deploy_if_missing)
    if app.w3 is not None and app.account is not None and settings.committee.members:
        app.committee = committee_part(app)
    app.readiness.checks["database"] = lambda: ping(engine)
    if ticks:
        app.readiness.checks["backend"] = lambda: _probe(backend.meters)
    if app.w3 is not None:
        w3 = app.w3
        app.readiness.checks["rpc"] = lambda: _probe(lambda: w3.eth.block_number)
    if ticks:
        app.readiness.max_tick_age_s = 3 * settings.scheduler.interval_s
    return app


def committee_part(app: Application) -> Committee:
    """This daemon's place in the committee: its own store is its view, its key its vote."""
    from oracle.committee import Committee
    from oracle.committee.local import StoredView
    from oracle.errors import ConfigError
    from oracle.jobs.pricing import forward_curve
    from oracle.store.deployments import Deployments

    assert app.w3 is not None and app.account is not None
    s = app.settings
    known = Deployments(app.engine).addresses(app.w3.eth.chain_id)
    if "EnergyPriceOracle" not in known:
        raise ConfigError("the committee needs the feed's address: run `oracle contracts "
                          "deploy` or `oracle contracts record`", key="committee.members")
    view = StoredView(app.engine, s.pricing,
                      lambda start: forward_curve(app.engine, s.pricing, app.tariffs, start))
    return Committee(s.committee, app.account, app.w3, known["EnergyPriceOracle"],
                     s.pricing.zone, s.chain.feed_decimals, s.scheduler.interval_s, app.engine,
                     view, app.metrics.registry)


def _probe(call: Callable[[], object]) -> None:
    """A readiness check: the call must succeed; its value does not matter."""
    call()
