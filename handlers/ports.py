"""Ports: what a listener may use, each a small typed interface, and nothing else.

A Slack listener finds them in Bolt's ``context``, put there by Tolk's middleware
(``bot/app.py``) from what the composition root built (``bot/wiring.py: slack_ports``);
the accessors below read them with their types. A web route gets the few ports it uses
when it is mounted (``add_callback_routes``, ``add_refine_routes``). No handler imports
the wiring or the engine: a port names what is needed, the wiring says who does it.

=================  ==============================================================
``desk``           ``TaskDesk``: record, cancel, retry, remove results, list, wake,
                   spend, the glossary (``bot.core.desk.Desk``)
``channels``       ``ChannelSettings``: a channel's ``/tolk config``, notices said
                   once, the workspace's language sets (the same ``Desk``)
``slack``          Tolk's Slack Web API client (``bot.core.slack_client``)
``config``         ``SlackConfig``: what the Slack surfaces read of the configuration
``quota``          ``QuotaReader`` or None: the Xiangji counts left
``links``          ``bot.core.links.Links``: Refine links (and whether there is a
                   public URL at all)
``refine``         ``RefineImages``: which results Xiangji's editor can open
``provider_keys``  ``ProviderKeys`` or None: a workspace's own provider keys
                   (``bot.core.provider_keys.ProviderKeyring``)
=================  ==============================================================
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from slack_sdk.web.async_client import AsyncWebClient

from bot.core.channels import ChannelConfig
from bot.core.glossary import Glossary
from bot.core.languages import LanguageSets
from bot.core.links import Links
from bot.core.review import Decision
from bot.core.spend import SpendBook
from bot.core.tasks import Item, Place, Task

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Keys of the Slack listeners' ports in Bolt's context.
DESK = "tolk_desk"
CHANNELS = "tolk_channels"
SLACK = "tolk_slack"
CONFIG = "tolk_config"
QUOTA = "tolk_quota"
LINKS = "tolk_links"
REFINE = "tolk_refine"
PROVIDER_KEYS = "tolk_provider_keys"


class TaskDesk(Protocol):
    """Tasks, as a person asks for them (``bot.core.desk.Desk`` says what each does)."""

    #: Month counters and requests waiting for Go (``handlers.slack.common.record_task``).
    @property
    def spend(self) -> SpendBook: ...

    def now(self) -> float: ...

    async def get(self, task_id: str) -> Task | None: ...

    async def record(
        self,
        *,
        dedupe_key: str,
        place: Place,
        provider: str,
        operation: str,
        request: dict[str, Any],
        items: tuple[Item, ...],
    ) -> tuple[Task, bool]: ...

    async def cancel(self, task: Task, by: str) -> bool: ...

    async def retry(self, task: Task, *, dedupe_key: str, by: str) -> tuple[Task, bool]: ...

    async def remove_results(
        self, task: Task, *, by: str, thread_ts: str | None
    ) -> tuple[Task, bool]: ...

    async def wake(self, task_id: str) -> bool: ...

    async def for_channel(self, channel: str) -> list[Task]: ...

    async def for_person(self, user: str, *, limit: int) -> list[Task]: ...

    async def decide(self, task: Task, index: int, decision: Decision) -> Decision | None: ...

    async def awaiting_review(self, team: str) -> list[tuple[Task, list[int]]]: ...

    #: The workspace's glossary (``/tolk glossary``; a task's request carries a snapshot).
    async def glossary(self, team: str) -> Glossary: ...

    async def save_glossary(self, team: str, glossary: Glossary) -> None: ...

    #: A person's next CSV upload in a channel is a glossary import, for a while.
    async def expect_glossary_import(
        self, team: str, channel: str, user: str, until: float
    ) -> None: ...

    async def glossary_import_expected(self, team: str, channel: str, user: str) -> bool: ...

    async def take_glossary_import(self, team: str, channel: str, user: str) -> bool: ...


class ChannelSettings(Protocol):
    """A channel's settings (``/tolk config``) and the notices said once; and the
    workspace's language sets and flag sets (``/tolk config set …``), kept beside them."""

    async def channel_config(self, channel: str) -> ChannelConfig: ...

    async def save_channel_config(self, channel: str, config: ChannelConfig) -> None: ...

    async def first_notice(self, key: str) -> bool: ...

    async def language_sets(self, team: str) -> LanguageSets: ...

    async def save_language_sets(self, team: str, sets: LanguageSets) -> None: ...


class RefineLinkBook(Protocol):
    """Which Refine links have handed over their result (by a digest of the link)."""

    async def link_used(self, key: str) -> bool: ...

    async def use_link(self, key: str, task_id: str) -> None: ...


class RefineDesk(TaskDesk, RefineLinkBook, Protocol):
    """What the Refine page does with tasks: the desk, and the links it has spent."""


class QuotaReader(Protocol):
    """The Xiangji counts left, for ``/tolk quota`` and App Home."""

    async def report(self, *, within: float = ...) -> str: ...

    async def read_all(self) -> dict[str, int | None]:
        """Service → count left, read now (``None`` where the read failed)."""
        ...

    async def last_reading(self) -> dict[str, dict[str, float]]:
        """Service → ``{"left", "at"}`` of the last reading, without asking Xiangji."""
        ...


class ProviderKeys(Protocol):
    """A workspace's own provider keys, as its admins set them in the Home tab
    (``bot.core.provider_keys.ProviderKeyring`` says what each does). Nothing here
    gives a stored value back."""

    async def summary(self, team: str) -> dict[str, tuple[float, str]]:
        """Provider → (when its keys were set, by whom)."""
        ...

    async def set(
        self, team: str, provider: str, values: Mapping[str, str], *, by: str, at: float
    ) -> None: ...

    async def remove(self, team: str, provider: str) -> bool: ...


class RefineImages(Protocol):
    """What Refine knows of a task's images: the engine's refine operation answers."""

    @property
    def operation(self) -> str:
        """The operation of the task that posts a refined image."""
        ...

    def refinable(self, task: Task) -> list[tuple[int, str]]:
        """(index, name) of each image of ``task`` Xiangji's editor can open."""
        ...

    def image_label(self, task: Task, index: int) -> str:
        """How Slack messages name image ``index`` of ``task``."""
        ...

    def editor_page(self, task: Task, lang: str) -> EditorPage | None:
        """How the Refine page embeds Xiangji's editor on ``task``'s images, in the
        editor language ``lang``; None when Xiangji is off."""
        ...

    def result_message(self, task: Task) -> str:
        """The name of the message with which the editor hands its result over."""
        ...

    def result_name(self, task: Task, index: int, output: dict[str, Any]) -> str:
        """The file name image ``index``'s result had in Slack."""
        ...

    def host_allowed(self, url: str) -> bool:
        """``url`` is on a host Tolk downloads results from (``TOLK_ALLOWED_FILE_HOSTS``)."""
        ...


@dataclass(frozen=True)
class EditorPage:
    """Xiangji's editor as the Refine page embeds it."""

    src: str = field(repr=False)  # the iframe's URL, signed for this moment
    origin: str  # where its messages come from, and ours go
    ids_message: str  # page → editor: the request ids to open
    result_message: str  # editor → page: the refined URLs


@dataclass(frozen=True)
class SlackConfig:
    """What the Slack surfaces read of the configuration: which providers and keys are
    on, the Slack API's address, admins, the public URL. Built by the wiring from the
    settings on every request, so nothing here is a secret."""

    slack_api_url: str = "https://slack.com/api/"
    public_url: str | None = None
    admins: frozenset[str] = frozenset()
    quota_threshold: int = 100
    xiangji: bool = False
    xiangji_keys: frozenset[str] = frozenset()  # set service keys: "text_trans_key", …
    image_engines: tuple[str, ...] = ()  # engines with a key, the default first
    engine_variables: Mapping[str, str] = field(default_factory=dict)  # engine → variable
    alibaba: bool = False  # machine translation and media jobs (MTS)
    mts_output: bool = False  # ALIBABA_MTS_OUTPUT is set
    rozetta: bool = False
    shared_provider_keys: bool = False  # the providers on above serve workspaces without keys


@dataclass(frozen=True)
class WebConfig:
    """What Tolk's own web routes read of the configuration."""

    public_url: str | None = None
    trusted_proxies: tuple[IPNetwork, ...] = ()
    alibaba_callback_ips: frozenset[str] = frozenset()  # empty: from any address


class CallbackSite(Protocol):
    """What the provider callbacks use."""

    @property
    def desk(self) -> TaskDesk: ...

    @property
    def links(self) -> Links: ...

    @property
    def web_config(self) -> WebConfig: ...


class RefineSite(Protocol):
    """What the Refine page uses."""

    @property
    def desk(self) -> RefineDesk: ...

    @property
    def links(self) -> Links: ...

    @property
    def refine(self) -> RefineImages: ...

    @property
    def web_config(self) -> WebConfig: ...


# --- a Slack listener's ports, from Bolt's context ---------------------------------------


def desk(context: Mapping[str, Any]) -> TaskDesk:
    port: TaskDesk = context[DESK]
    return port


def channels(context: Mapping[str, Any]) -> ChannelSettings:
    port: ChannelSettings = context[CHANNELS]
    return port


def slack(context: Mapping[str, Any]) -> AsyncWebClient:
    port: AsyncWebClient = context[SLACK]
    return port


def config(context: Mapping[str, Any]) -> SlackConfig:
    port: SlackConfig = context[CONFIG]
    return port


def quota(context: Mapping[str, Any]) -> QuotaReader | None:
    port: QuotaReader | None = context.get(QUOTA)
    return port


def links(context: Mapping[str, Any]) -> Links:
    port: Links = context[LINKS]
    return port


def refine(context: Mapping[str, Any]) -> RefineImages:
    port: RefineImages = context[REFINE]
    return port


def provider_keys(context: Mapping[str, Any]) -> ProviderKeys | None:
    port: ProviderKeys | None = context.get(PROVIDER_KEYS)
    return port


WORKSPACES = "tolk_workspaces"


class Departures(Protocol):
    """Many workspaces: a workspace that removed Tolk (``bot.tenants.WorkspaceTenants``)."""

    async def leave(self, team: str) -> int:
        """Delete its installation and keys; end its unsettled tasks without a word."""
        ...


def departures(context: Mapping[str, Any]) -> Departures | None:
    """None with one workspace (``SLACK_BOT_TOKEN``): there is nothing to leave."""
    found: Departures | None = context.get(WORKSPACES)
    return found


FILES = "tolk_files"


class SlackFiles(Protocol):
    """A Slack file's bytes, read with workspace ``team``'s token (``file_id``: only that
    file's URL; checked as every download Tolk makes)."""

    async def __call__(self, url: str, *, limit: int, file_id: str, team: str) -> bytes: ...


def files(context: Mapping[str, Any]) -> SlackFiles:
    port: SlackFiles = context[FILES]
    return port
