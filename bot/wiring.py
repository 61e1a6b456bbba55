"""The composition root: start-up and shut-down as one async context manager, and the
ports the handlers get.

Opened in order — HTTP session, store, Slack client, provider clients, work, poller,
desk, scheduler — and closed in reverse, also when start-up fails half-way. ``Services``
is what was built, for the runtime that serves it; a handler never sees it: a Slack
listener gets ``slack_ports`` (put in Bolt's context by ``bot/app.py``), a web route
the few ports of ``handlers.ports.CallbackSite`` / ``RefineSite``, which ``Services``
provides. This is the one module that imports across the layers.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings, XiangjiSettings, engine_variable
from bot.core.backoff import Backoff
from bot.core.desk import Desk
from bot.core.fetch import Fetcher
from bot.core.links import Links
from bot.core.metrics import Metrics
from bot.core.slack_client import TolkWebClient, slack_client
from bot.core.storage import TaskStore, open_store
from bot.core.storage.leader import run_due_across_replicas
from bot.core.tasks import Task
from bot.engine.delivery import Delivery, host_allowed
from bot.engine.operation import Operation
from bot.engine.operations import refine as refining
from bot.engine.operations.alibaba import alibaba_operations
from bot.engine.operations.mts import mts_operations
from bot.engine.operations.remove import remove_operations
from bot.engine.operations.rozetta import rozetta_operations
from bot.engine.operations.xiangji import xiangji_operations
from bot.engine.poller import Poller
from bot.engine.quota import QuotaWatcher
from bot.engine.ratelimit import PROVIDER_LIMITS, RateLimits
from bot.engine.scheduler import build_scheduler
from bot.engine.work import Work, result_filename
from handlers import ports
from handlers.ports import EditorPage, SlackConfig, WebConfig
from providers.alibaba.client import AlibabaMTClient
from providers.alibaba.signing import Credentials
from providers.mts.client import MtsClient
from providers.rozetta.client import RozettaClient, RozettaKeys
from providers.xiangji import XiangjiClient
from providers.xiangji.refine import EditorKeys, editor_origin, editor_url
from providers.xiangji.wire import IMAGE_ENGINES

QUOTA_EVERY = 300.0  # seconds between scheduled quota readings, across all replicas


class RefineImages:
    """``handlers.ports.RefineImages``: the engine's refine operation and the hosts
    results are downloaded from, as the Refine button and page see them."""

    operation = refining.OPERATION

    def __init__(
        self,
        allowed_file_hosts: tuple[str, ...],
        xiangji: XiangjiSettings | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._allowed = allowed_file_hosts
        self._xiangji = xiangji
        self._clock = clock

    def refinable(self, task: Task) -> list[tuple[int, str]]:
        return refining.refinable(task)

    def image_label(self, task: Task, index: int) -> str:
        return refining.image_label(task, index)

    def editor_page(self, task: Task, lang: str) -> EditorPage | None:
        x = self._xiangji
        if x is None:
            return None
        editor = refining.EDITORS[task.operation]
        keys = EditorKeys(x.user_key, x.aigc_key, x.text_trans_key)
        src = editor_url(x.editor_url, editor, keys, commit_time=int(self._clock()), lang=lang)
        origin = editor_origin(x.editor_url)
        return EditorPage(src, origin, editor.ids_message, editor.result_message)

    def result_message(self, task: Task) -> str:
        return refining.EDITORS[task.operation].result_message

    def result_name(self, task: Task, index: int, output: dict[str, Any]) -> str:
        return result_filename(task, index, output)

    def host_allowed(self, url: str) -> bool:
        return host_allowed(url, self._allowed)


@dataclass
class Services:
    """What ``open_services`` built. It provides the web routes' ports
    (``desk``, ``links``, ``refine``, ``web_config``)."""

    settings: Settings
    session: aiohttp.ClientSession
    store: TaskStore
    slack: AsyncWebClient
    xiangji: XiangjiClient | None
    work: Work
    poller: Poller
    scheduler: AsyncIOScheduler | None
    clock: Callable[[], float]
    delivery: Delivery
    links: Links
    desk: Desk
    refine: RefineImages
    alibaba: AlibabaMTClient | None = None
    rozetta: RozettaClient | None = None
    mts: MtsClient | None = None
    metrics: Metrics | None = None
    quota: QuotaWatcher | None = None

    @property
    def web_config(self) -> WebConfig:
        return web_config(self.settings)

    async def slack_webhook(self, url: str, text: str) -> None:
        """An ephemeral answer through a command's ``response_url`` (Slack hosts only)."""
        await self.delivery.respond(url, text)


def slack_config(services: Services) -> SlackConfig:
    """What the Slack surfaces read of the configuration, as it is now (read per
    request: a test may change the settings of a running Tolk)."""
    settings = services.settings
    x, a = settings.xiangji, settings.alibaba
    x = x if services.xiangji is not None else None  # the client is what is on
    keys = (
        frozenset(f.name for f in fields(x) if f.name.endswith("_key") and getattr(x, f.name))
        if x is not None
        else frozenset()
    )
    return SlackConfig(
        slack_api_url=settings.slack_api_url,
        public_url=services.links.public_url,
        admins=settings.admins,
        quota_threshold=settings.quota_threshold,
        xiangji=x is not None,
        xiangji_keys=keys,
        image_engines=tuple(x.image_engines()) if x is not None else (),
        engine_variables=ENGINE_VARIABLES,
        alibaba=services.alibaba is not None,
        mts_output=bool(a and a.mts_output),
        rozetta=services.rozetta is not None,
    )


ENGINE_VARIABLES = {engine: engine_variable(engine) for engine in IMAGE_ENGINES}


def web_config(settings: Settings) -> WebConfig:
    return WebConfig(
        public_url=settings.public_url,
        trusted_proxies=settings.trusted_proxies,
        alibaba_callback_ips=frozenset(settings.alibaba.callback_ips if settings.alibaba else ()),
    )


def slack_ports(services: Services) -> dict[str, Any]:
    """The Slack listeners' ports (``handlers.ports``), by their keys in Bolt's context."""
    return {
        ports.DESK: services.desk,
        ports.CHANNELS: services.desk,
        ports.SLACK: services.slack,
        ports.CONFIG: slack_config(services),
        ports.QUOTA: services.quota,
        ports.LINKS: services.links,
        ports.REFINE: services.refine,
    }


def provider_hosts(settings: Settings) -> dict[str, str]:
    """``host:port`` (or ``*.domain``) → provider, to label provider calls in metrics."""
    hosts: dict[str, str] = {}

    def add(url: str | None, provider: str) -> None:
        if url:
            netloc = urlsplit(url if "://" in url else f"https://{url}").netloc.lower()
            hosts[netloc] = provider

    add(settings.slack_api_url, "slack")
    hosts["files.slack.com"] = "slack"
    if settings.xiangji:
        for url in (settings.xiangji.api_url, settings.xiangji.upload_url):
            add(url, "xiangji")
        add(settings.xiangji.account_url, "xiangji")
        hosts["*.tosoiot.com"] = "xiangji"
    if settings.alibaba:
        add(settings.alibaba.mt_endpoint, "alibaba")
        add(settings.alibaba.mts_endpoint, "mts")
        add(settings.alibaba.oss_endpoint, "oss")
        hosts["*.alicdn.com"] = "alibaba"
    if settings.rozetta:
        add(settings.rozetta.api_url, "rozetta")
    return hosts


@dataclass(frozen=True)
class ProviderClients:
    """One client per configured provider (None where its keys are not set)."""

    xiangji: XiangjiClient | None = None
    alibaba: AlibabaMTClient | None = None
    mts: MtsClient | None = None
    rozetta: RozettaClient | None = None
    credentials: Credentials | None = None  # Alibaba's, also for reading MTS outputs


def provider_clients(
    settings: Settings, session: aiohttp.ClientSession, clock: Callable[[], float]
) -> ProviderClients:
    xiangji = alibaba = mts = rozetta = credentials = None
    if x := settings.xiangji:
        xiangji = XiangjiClient(
            session,
            x.keys(),  # every service key, one per image engine
            api_url=x.api_url,
            upload_url=x.upload_url,
            account_url=x.account_url,
        )
    if a := settings.alibaba:
        credentials = Credentials(a.access_key_id, a.access_key_secret)
        alibaba = AlibabaMTClient(session, credentials, endpoint=a.mt_endpoint, clock=clock)
        mts = MtsClient(session, credentials, endpoint=a.mts_endpoint, clock=clock)
    if r := settings.rozetta:
        rozetta = RozettaClient(
            session,
            RozettaKeys(r.access_key, r.secret_key),
            api_url=r.api_url,
            contract_id=r.contract_id,
            field_id=r.field_id,  # nonces follow the wall clock, never a test's
        )
    return ProviderClients(xiangji, alibaba, mts, rozetta, credentials)


def operations_for(
    clients: ProviderClients,
    settings: Settings,
    *,
    store: TaskStore,
    slack: TolkWebClient,
    limits: RateLimits,
    delivery: Delivery,
    links: Links,
    clock: Callable[[], float],
) -> dict[str, Operation]:
    """The registry: every operation name → the code that runs it (configured ones)."""
    operations: dict[str, Operation] = {}
    operations.update(remove_operations(store, slack, clock))
    if clients.xiangji:
        operations.update(xiangji_operations(clients.xiangji, limits, delivery))
    if clients.alibaba:
        operations.update(alibaba_operations(clients.alibaba, limits, links))
    if clients.rozetta:
        operations.update(rozetta_operations(clients.rozetta, delivery))
    if clients.mts and clients.credentials and (a := settings.alibaba):
        operations.update(
            mts_operations(
                clients.mts,
                limits,
                delivery,
                clients.credentials,
                output=a.mts_output,
                pipeline_id=a.mts_pipeline_id,
                oss_endpoint=a.oss_endpoint,
                clock=clock,
            )
        )
    return operations


def start_schedule(
    settings: Settings,
    poller: Poller,
    store: TaskStore,
    quota: QuotaWatcher,
    clock: Callable[[], float],
) -> AsyncIOScheduler:
    """Poll rounds every second (or ``TOLK_POLL_MIN_SECONDS``), and the quota reading
    every ``QUOTA_EVERY`` seconds on one replica at a time."""
    scheduler = build_scheduler(poller, interval=min(1.0, settings.poll_min_seconds))
    scheduler.add_job(
        run_due_across_replicas,
        "interval",
        args=(store, "quota-check", QUOTA_EVERY, quota.check, clock),
        seconds=QUOTA_EVERY,
        id="quota",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=None,
    )
    scheduler.start()
    return scheduler


def watch_metrics(metrics: Metrics, store: TaskStore, quota: QuotaWatcher) -> None:
    metrics.gauge("tolk_quota_left", "service", lambda: dict(quota.left))
    metrics.gauge("tolk_tasks", "state", lambda: dict(metrics.task_counts))

    async def count_tasks() -> None:
        metrics.task_counts = dict(await store.count_unsettled())

    metrics.refresh = count_tasks


@asynccontextmanager
async def open_services(
    settings: Settings,
    *,
    clock: Callable[[], float] = time.time,
    start_scheduler: bool = True,
) -> AsyncIterator[Services]:
    async with AsyncExitStack() as stack:
        metrics = Metrics(provider_hosts(settings))
        session = await stack.enter_async_context(
            aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=100), trace_configs=[metrics.trace_config()]
            )
        )
        # the one fetcher for URLs Tolk opens itself (results, people's links, Slack files)
        fetcher = Fetcher(trace_configs=[metrics.trace_config()])
        stack.push_async_callback(fetcher.close)
        store = await open_store(settings.database_url)
        stack.push_async_callback(store.close)
        slack = slack_client(settings.slack_bot_token, settings.slack_api_url, session)
        clients = provider_clients(settings, session, clock)
        links = Links(
            settings.public_url,
            settings.slack_signing_secret or settings.slack_bot_token or "",
            clock=clock,
        )
        limits = RateLimits(PROVIDER_LIMITS)
        delivery = Delivery(
            slack,
            session,
            settings.allowed_file_hosts,
            slack_file_hosts=("files.slack.com", urlsplit(settings.slack_api_url).netloc),
            response_hosts=("hooks.slack.com", urlsplit(settings.slack_api_url).netloc),
            fetcher=fetcher,
        )
        quota = QuotaWatcher(store, clients.xiangji, delivery, settings, clock=clock)
        operations = operations_for(
            clients,
            settings,
            store=store,
            slack=slack,
            limits=limits,
            delivery=delivery,
            links=links,
            clock=clock,
        )
        work = Work(
            store,
            delivery,
            operations,
            retry=Backoff(settings.poll_min_seconds, settings.poll_max_seconds),
            poll=Backoff(settings.poll_min_seconds, settings.poll_max_seconds, factor=1.5),
            clock=clock,
            on_settled=quota.on_task_settled,
            metrics=metrics,
            refine=bool(clients.xiangji and settings.public_url),
        )
        watch_metrics(metrics, store, quota)
        poller = Poller(store, work, clock=clock)
        stack.push_async_callback(poller.close)
        desk = Desk(
            store,
            clock=clock,
            task_timeout=settings.task_timeout_seconds,
            nudge=poller.nudge,
            on_created=lambda task: metrics.tasks_created.labels(task.operation).inc(),
        )
        scheduler = None
        if start_scheduler:
            scheduler = start_schedule(settings, poller, store, quota, clock)
            stack.callback(scheduler.shutdown, wait=False)
        yield Services(
            settings=settings,
            session=session,
            store=store,
            slack=slack,
            xiangji=clients.xiangji,
            work=work,
            poller=poller,
            scheduler=scheduler,
            clock=clock,
            delivery=delivery,
            links=links,
            desk=desk,
            refine=RefineImages(settings.allowed_file_hosts, settings.xiangji, clock),
            alibaba=clients.alibaba,
            rozetta=clients.rozetta,
            mts=clients.mts,
            metrics=metrics,
            quota=quota,
        )
