"""Provider clients and the operations registry, built from settings: the operator's
(one workspace, or the keys every workspace may share) or one workspace's own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

from bot.config import Settings
from bot.core.links import Links
from bot.core.slack_client import TolkWebClient
from bot.core.storage import TaskStore
from bot.engine.delivery import Delivery
from bot.engine.operation import Operation
from bot.engine.operations.alibaba import alibaba_operations
from bot.engine.operations.catalogue import OPERATION as CATALOGUE
from bot.engine.operations.catalogue import Catalogue
from bot.engine.operations.mts import mts_operations
from bot.engine.operations.remove import remove_operations
from bot.engine.operations.rozetta import rozetta_operations
from bot.engine.operations.xiangji import xiangji_operations
from bot.engine.ratelimit import RateLimits
from providers.alibaba.client import AlibabaMTClient
from providers.alibaba.signing import Credentials
from providers.mts.client import MtsClient
from providers.rozetta.client import RozettaClient, RozettaKeys
from providers.xiangji import XiangjiClient


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
    refine: bool = True,
) -> dict[str, Operation]:
    """The registry: every operation name → the code that runs it (configured ones).
    ``refine``: work on these keys may be offered Refine (Xiangji's editor opens with the
    operator's keys, so a workspace's own keys are not)."""
    operations: dict[str, Operation] = {}
    operations.update(remove_operations(store, slack, clock))
    if clients.xiangji:
        refine = refine and bool(settings.public_url)  # the Refine page needs Tolk's address
        operations.update(xiangji_operations(clients.xiangji, limits, delivery, refine=refine))
        operations[CATALOGUE] = Catalogue(clients.xiangji, limits, delivery, store)
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
