"""Start-up and shut-down as one async context manager.

Opened in order — HTTP session, store, Slack client, provider clients, work, poller,
scheduler — and closed in reverse, also when start-up fails half-way.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.core.backoff import Backoff
from bot.core.fetch import Fetcher
from bot.core.links import Links
from bot.core.metrics import Metrics
from bot.core.slack_client import slack_client
from bot.core.storage import TaskStore, open_store
from bot.core.storage.leader import run_due_across_replicas
from bot.core.tasks import Item, Place, Task, new_task_id
from bot.engine.delivery import Delivery
from bot.engine.operations.alibaba import alibaba_operations
from bot.engine.operations.mts import mts_operations
from bot.engine.operations.rozetta import rozetta_operations
from bot.engine.operations.xiangji import xiangji_operations
from bot.engine.poller import Poller
from bot.engine.quota import QuotaWatcher
from bot.engine.ratelimit import PROVIDER_LIMITS, RateLimits
from bot.engine.scheduler import build_scheduler
from bot.engine.work import Work
from providers.alibaba.client import AlibabaMTClient
from providers.alibaba.signing import Credentials
from providers.mts.client import MtsClient
from providers.rozetta.client import RozettaClient, RozettaKeys
from providers.xiangji import XiangjiClient

QUOTA_EVERY = 300.0  # seconds between scheduled quota readings, across all replicas


@dataclass
class Services:
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
    alibaba: AlibabaMTClient | None = None
    rozetta: RozettaClient | None = None
    mts: MtsClient | None = None
    metrics: Metrics | None = None
    quota: QuotaWatcher | None = None

    def provider_ready(self, provider: str) -> bool:
        return getattr(self, provider, None) is not None

    async def slack_webhook(self, url: str, text: str) -> None:
        """An ephemeral answer through a command's ``response_url`` (Slack hosts only)."""
        await self.delivery.respond(url, text)


async def record_task(
    services: Services,
    *,
    dedupe_key: str,
    place: Place,
    provider: str,
    operation: str,
    request: dict[str, Any],
    items: tuple[Item, ...],
) -> tuple[Task, bool]:
    """Create the task unless its dedupe key exists; start work at once if new."""
    now = services.clock()
    task = Task(
        id=new_task_id(),
        dedupe_key=dedupe_key,
        place=place,
        provider=provider,
        operation=operation,
        request=request,
        items=items,
        created_at=now,
        updated_at=now,
        next_poll_at=now,
        deadline=now + services.settings.task_timeout_seconds,
    )
    task, created = await services.store.create_if_absent(task)
    if created:
        services.poller.nudge()
        if services.metrics is not None:
            services.metrics.tasks_created.labels(operation).inc()
    return task, created


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
        xiangji = None
        if settings.xiangji:
            x = settings.xiangji
            xiangji = XiangjiClient(
                session,
                x.keys(),  # every service key, one per image engine
                api_url=x.api_url,
                upload_url=x.upload_url,
                account_url=x.account_url,
            )
        alibaba = mts = None
        if settings.alibaba:
            a = settings.alibaba
            credentials = Credentials(a.access_key_id, a.access_key_secret)
            alibaba = AlibabaMTClient(session, credentials, endpoint=a.mt_endpoint, clock=clock)
            mts = MtsClient(session, credentials, endpoint=a.mts_endpoint, clock=clock)
        rozetta = None
        if settings.rozetta:
            r = settings.rozetta
            rozetta = RozettaClient(
                session,
                RozettaKeys(r.access_key, r.secret_key),
                api_url=r.api_url,
                contract_id=r.contract_id,
                field_id=r.field_id,  # nonces follow the wall clock, never a test's
            )
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
        quota = QuotaWatcher(store, xiangji, delivery, settings, clock=clock)
        operations = {}
        if xiangji:
            operations.update(xiangji_operations(xiangji, limits, delivery))
        if alibaba:
            operations.update(alibaba_operations(alibaba, limits, links))
        if rozetta:
            operations.update(rozetta_operations(rozetta, delivery))
        if mts and settings.alibaba:
            operations.update(
                mts_operations(
                    mts,
                    limits,
                    delivery,
                    credentials,
                    output=settings.alibaba.mts_output,
                    pipeline_id=settings.alibaba.mts_pipeline_id,
                    oss_endpoint=settings.alibaba.oss_endpoint,
                    clock=clock,
                )
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
            refine=bool(xiangji and settings.public_url),
        )
        metrics.gauge("tolk_quota_left", "service", lambda: dict(quota.left))
        metrics.gauge("tolk_tasks", "state", lambda: dict(metrics.task_counts))

        async def count_tasks() -> None:
            metrics.task_counts = dict(await store.count_unsettled())

        metrics.refresh = count_tasks
        poller = Poller(store, work, clock=clock)
        stack.push_async_callback(poller.close)
        scheduler = None
        if start_scheduler:
            interval = min(1.0, settings.poll_min_seconds)
            scheduler = build_scheduler(poller, interval=interval)
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
            stack.callback(scheduler.shutdown, wait=False)
        yield Services(
            settings=settings,
            session=session,
            store=store,
            slack=slack,
            xiangji=xiangji,
            work=work,
            poller=poller,
            scheduler=scheduler,
            clock=clock,
            delivery=delivery,
            links=links,
            alibaba=alibaba,
            rozetta=rozetta,
            mts=mts,
            metrics=metrics,
            quota=quota,
        )
