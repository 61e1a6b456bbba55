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
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
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
from bot.core.fetch import DownloadRefused, Fetcher
from bot.core.links import Links
from bot.core.metrics import Metrics
from bot.core.provider_keys import ProviderKeyring
from bot.core.sealed import Sealer
from bot.core.slack_client import slack_client
from bot.core.storage import TaskStore, open_store
from bot.core.storage.leader import run_due_across_replicas
from bot.core.tasks import Task
from bot.core.workspaces import Workspaces
from bot.engine.delivery import Delivery, host_allowed
from bot.engine.operation import Operation
from bot.engine.operations import refine as refining
from bot.engine.poller import Poller
from bot.engine.quota import QuotaWatcher
from bot.engine.ratelimit import RateLimits, provider_limits
from bot.engine.scheduler import build_scheduler
from bot.engine.tenant import slack_context
from bot.engine.work import Work, result_filename
from bot.registry import operations_for, provider_clients, provider_hosts
from bot.tenants import Workspace, WorkspaceTenants
from handlers import ports
from handlers.ports import EditorPage, SlackConfig, WebConfig
from providers.alibaba.client import AlibabaMTClient
from providers.mts.client import MtsClient
from providers.rozetta.client import RozettaClient
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
    # many workspaces (SLACK_CLIENT_ID): tokens, each workspace's keys, what its work runs with
    workspaces: Workspaces | None = None
    keyring: ProviderKeyring | None = None
    tenants: WorkspaceTenants | None = None

    @property
    def web_config(self) -> WebConfig:
        return web_config(self.settings)

    async def download_slack_file(self, url: str, *, limit: int, file_id: str, team: str) -> bytes:
        """A Slack file of a task, read with its workspace's token (the ``/files`` link)."""
        if self.tenants is None:
            return await self.delivery.download_slack_file(url, limit=limit, file_id=file_id)
        slack = await self.tenants.client(team)
        if slack is None:  # the workspace removed Tolk
            raise DownloadRefused(url)
        acting = slack_context.set(slack)
        try:
            return await self.delivery.download_slack_file(url, limit=limit, file_id=file_id)
        finally:
            slack_context.reset(acting)

    async def slack_webhook(self, url: str, text: str) -> None:
        """An ephemeral answer through a command's ``response_url`` (Slack hosts only)."""
        await self.delivery.respond(url, text)


def slack_config(services: Services, workspace: Workspace | None = None) -> SlackConfig:
    """What the Slack surfaces read of the configuration, as it is now (read per
    request: a test may change the settings of a running Tolk); with many workspaces,
    ``workspace``'s (its own provider keys, or the operator's shared ones)."""
    settings = workspace.settings if workspace is not None else services.settings
    x, a = settings.xiangji, settings.alibaba
    if workspace is None:
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
        alibaba=(a is not None) if workspace else services.alibaba is not None,
        mts_output=bool(a and a.mts_output),
        rozetta=(settings.rozetta is not None) if workspace else services.rozetta is not None,
        shared_provider_keys=services.settings.shared_provider_keys,
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
        ports.FILES: services.download_slack_file,
    }


async def workspace_ports(services: Services, team: str) -> dict[str, Any]:
    """Many workspaces: the ports as workspace ``team`` sees them — its token, its
    tasks only, its providers and quota, and the Provider keys form."""
    assert services.tenants is not None
    workspace = await services.tenants.workspace(team)
    desk = services.desk.for_team(team)
    return {
        ports.DESK: desk,
        ports.CHANNELS: desk,
        ports.SLACK: workspace.tenant.slack or services.slack,
        ports.CONFIG: slack_config(services, workspace),
        ports.QUOTA: workspace.quota,
        ports.LINKS: services.links,
        ports.REFINE: services.refine,
        ports.PROVIDER_KEYS: services.tenants,
        ports.FILES: services.download_slack_file,
        ports.WORKSPACES: services.tenants,
    }


def start_schedule(
    settings: Settings,
    poller: Poller,
    store: TaskStore,
    check_quota: Callable[[], Awaitable[object]],
    clock: Callable[[], float],
) -> AsyncIOScheduler:
    """Poll rounds every second (or ``TOLK_POLL_MIN_SECONDS``), and the quota reading
    every ``QUOTA_EVERY`` seconds on one replica at a time."""
    scheduler = build_scheduler(poller, interval=min(1.0, settings.poll_min_seconds))
    scheduler.add_job(
        run_due_across_replicas,
        "interval",
        args=(store, "quota-check", QUOTA_EVERY, check_quota, clock),
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
        limits = RateLimits(provider_limits(settings.xiangji_submit_per_second))
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
        workspaces = keyring = tenants = None
        if settings.installable:
            assert settings.secret_key and settings.slack_client_id and settings.slack_client_secret
            sealer = Sealer(settings.secret_key)
            workspaces = Workspaces(
                store,
                sealer,
                slack_api_url=settings.slack_api_url,
                session=session,
                client_id=settings.slack_client_id,
                client_secret=settings.slack_client_secret,
                clock=clock,
            )
            keyring = ProviderKeyring(store, sealer)

            def build(
                own: Settings, operators: bool
            ) -> tuple[Mapping[str, Operation], XiangjiClient | None]:
                ours = provider_clients(own, session, clock)
                registry = operations_for(
                    ours,
                    own,
                    store=store,
                    slack=slack,
                    limits=limits,
                    delivery=delivery,
                    links=links,
                    clock=clock,
                    refine=operators,  # the editor opens with the operator's keys only
                )
                return registry, ours.xiangji

            def watch(own: Settings, xiangji: XiangjiClient | None, team: str) -> QuotaWatcher:
                return QuotaWatcher(store, xiangji, delivery, own, clock=clock, scope=team)

            tenants = WorkspaceTenants(
                settings, workspaces, keyring, build, watch, store=store, clock=clock
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
            refine=bool(clients.xiangji and settings.public_url),  # and per workspace
            tenants=tenants,
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
            check = tenants.check_quota if tenants is not None else quota.check
            scheduler = start_schedule(settings, poller, store, check, clock)
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
            workspaces=workspaces,
            keyring=keyring,
            tenants=tenants,
        )
