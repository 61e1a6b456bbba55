"""Settings: one frozen object built from a mapping (the environment plus `.env`).

Only the entry point reads the real environment; tests pass a dict. A provider whose
credentials are missing is ``None`` ("off") and its commands say so. Secret fields are
left out of ``repr`` so a settings object can be logged safely.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import overload
from urllib.parse import urlsplit

from bot.core.sealed import GENERATE, Sealer
from bot.engine.ratelimit import XIANGJI_SUBMIT_PER_SECOND
from providers.alibaba.wire import CALLBACK_SOURCE_IPS
from providers.xiangji import XiangjiKeys
from providers.xiangji.wire import IMAGE_ENGINES, key_env

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_XIANGJI_EDITOR_URL = "https://www.xiangjifanyi.com"


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable and the fix."""


class Mode(StrEnum):
    SOCKET = "socket"
    HTTP = "http"
    SANDBOX = "sandbox"


@dataclass(frozen=True)
class XiangjiSettings:
    user_key: str = field(repr=False)
    img_trans_key: str | None = field(default=None, repr=False)
    text_trans_key: str | None = field(default=None, repr=False)
    matting_key: str | None = field(default=None, repr=False)
    api_url: str = "http://api.tosoiot.com"
    upload_url: str = "http://api2.tosoiot.com"
    account_url: str = "http://www.tosoiot.com"
    aigc_key: str | None = field(default=None, repr=False)  # the editor's smart eraser
    editor_url: str = DEFAULT_XIANGJI_EDITOR_URL  # serves /image-editor/ and /koutu/
    # One image-translation key per engine (Xiangji picks the engine by the key sent);
    # ``img_trans_key`` is Aliyun's (and ChatGPT's, with EngineType=5). Video: quota only.
    img_trans_google_key: str | None = field(default=None, repr=False)
    img_trans_papago_key: str | None = field(default=None, repr=False)
    img_trans_baidu_key: str | None = field(default=None, repr=False)
    img_trans_deepl_key: str | None = field(default=None, repr=False)
    video_trans_key: str | None = field(default=None, repr=False)

    def keys(self) -> XiangjiKeys:
        """The client's keys: every service key configured here."""
        return XiangjiKeys(
            self.user_key,
            img_trans_key=self.img_trans_key,
            text_trans_key=self.text_trans_key,
            matting_key=self.matting_key,
            img_trans_google_key=self.img_trans_google_key,
            img_trans_papago_key=self.img_trans_papago_key,
            img_trans_baidu_key=self.img_trans_baidu_key,
            img_trans_deepl_key=self.img_trans_deepl_key,
            video_trans_key=self.video_trans_key,
        )

    def image_engines(self) -> list[str]:
        """The image engines whose key is set, in default order (the first is the
        default): aliyun, google, papago, baidu, deepl, then chatgpt (Aliyun's key)."""
        return self.keys().image_engines()

    @property
    def secret_values(self) -> tuple[str | None, ...]:
        return (
            self.user_key,
            self.img_trans_key,
            self.text_trans_key,
            self.matting_key,
            self.aigc_key,
            self.img_trans_google_key,
            self.img_trans_papago_key,
            self.img_trans_baidu_key,
            self.img_trans_deepl_key,
            self.video_trans_key,
        )


def engine_variable(engine: str) -> str:
    """The environment variable holding the key of image engine ``engine``
    (``google`` → ``XIANGJI_IMG_TRANS_GOOGLE_KEY``; ``chatgpt`` uses Aliyun's)."""
    return key_env(IMAGE_ENGINES[engine].key_attr)


@dataclass(frozen=True)
class AlibabaSettings:
    access_key_id: str = field(repr=False)
    access_key_secret: str = field(repr=False)
    mt_endpoint: str = "mt.cn-hangzhou.aliyuncs.com"
    mts_endpoint: str = "mts.cn-hangzhou.aliyuncs.com"
    mts_pipeline_id: str | None = None
    mts_output: str | None = None
    oss_endpoint: str | None = None
    callback_ips: tuple[str, ...] = ()  # empty: callbacks accepted from any address


@dataclass(frozen=True)
class RozettaSettings:
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    api_url: str = "https://translate.rozetta-api.io"
    contract_id: str | None = None
    field_id: str | None = None


@dataclass(frozen=True)
class Settings:
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_app_token: str | None = field(default=None, repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_api_url: str = DEFAULT_SLACK_API_URL
    # many workspaces (Slack's OAuth): the app's credentials and the key tokens are sealed with
    slack_client_id: str | None = None
    slack_client_secret: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)  # TOLK_SECRET_KEY
    shared_provider_keys: bool = False  # TOLK_SHARED_PROVIDER_KEYS: env keys for every workspace
    port: int = 3000
    public_url: str | None = None
    database_url: str = field(default="sqlite:///data/tolk.sqlite", repr=False)
    xiangji: XiangjiSettings | None = None
    alibaba: AlibabaSettings | None = None
    rozetta: RozettaSettings | None = None
    poll_min_seconds: float = 2.0
    poll_max_seconds: float = 60.0
    task_timeout_seconds: float = 3600.0
    # TOLK_XIANGJI_SUBMIT_PER_SECOND: paid Xiangji calls a second, per process (Xiangji
    # documents no limit; the default is measured: see README, "Performance")
    xiangji_submit_per_second: float = XIANGJI_SUBMIT_PER_SECOND
    quota_threshold: int = 100
    quota_alert_channel: str | None = None
    admins: frozenset[str] = frozenset()
    allowed_file_hosts: tuple[str, ...] = ()
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @property
    def mode(self) -> Mode:
        if self.installable:
            return Mode.HTTP
        if not self.slack_bot_token:
            return Mode.SANDBOX
        return Mode.SOCKET if self.slack_app_token else Mode.HTTP

    @property
    def installable(self) -> bool:
        """Many workspaces: Tolk is installed with Slack's OAuth, a token per workspace."""
        return bool(self.slack_client_id and self.slack_client_secret)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every configured secret, so logs and messages can be checked against them."""
        values: list[str | None] = [
            self.slack_bot_token,
            self.slack_app_token,
            self.slack_signing_secret,
            self.slack_client_secret,
            *(self.secret_key or "").split(","),
        ]
        if self.xiangji:
            values += list(self.xiangji.secret_values)
        if self.alibaba:
            values += [self.alibaba.access_key_id, self.alibaba.access_key_secret]
        if self.rozetta:
            values += [self.rozetta.access_key, self.rozetta.secret_key]
        values.append(urlsplit(self.database_url).password)
        return tuple(v for v in values if v)

    @property
    def sqlite_path(self) -> str:
        """The file behind a ``sqlite:///`` database URL (relative to the working dir)."""
        if not self.database_url.startswith("sqlite:///"):
            raise ConfigError("DATABASE_URL is not a sqlite:/// URL")
        return self.database_url.removeprefix("sqlite:///")


# Where each provider serves result files. Used when TOLK_ALLOWED_FILE_HOSTS is unset.
PROVIDER_RESULT_HOSTS = (
    "i.tosoiot.com",
    "*.tosoiot.com",
    "*.alicdn.com",
    "*.aliyuncs.com",
    "*.rozetta-api.io",
)


def load_settings(env: Mapping[str, str]) -> Settings:
    """Build settings from ``env``; raise ``ConfigError`` naming what is wrong."""

    @overload
    def get(name: str) -> str | None: ...
    @overload
    def get(name: str, default: str) -> str: ...
    def get(name: str, default: str | None = None) -> str | None:
        """``name``'s value, stripped; ``default`` when it is unset or blank."""
        value = env.get(name, "").strip()
        return value or default

    def number(name: str, default: float, *, minimum: float = 0) -> float:
        raw = get(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {raw!r}") from None
        if not math.isfinite(value):
            raise ConfigError(f"{name} must be a finite number, got {raw!r}")
        if value < minimum:
            raise ConfigError(f"{name} must be at least {minimum:g}, got {raw!r}")
        return value

    bot_token = get("SLACK_BOT_TOKEN")
    app_token = get("SLACK_APP_TOKEN")
    signing_secret = get("SLACK_SIGNING_SECRET")
    _check_slack_set(get)

    poll_min = number("TOLK_POLL_MIN_SECONDS", 2.0, minimum=0.01)
    poll_max = number("TOLK_POLL_MAX_SECONDS", 60.0, minimum=0.01)
    if poll_max < poll_min:
        raise ConfigError("TOLK_POLL_MAX_SECONDS must not be below TOLK_POLL_MIN_SECONDS")

    xiangji = None
    if user_key := get("XIANGJI_USER_KEY"):
        xiangji = XiangjiSettings(
            user_key=user_key,
            img_trans_key=get("XIANGJI_IMG_TRANS_KEY"),
            text_trans_key=get("XIANGJI_TEXT_TRANS_KEY"),
            matting_key=get("XIANGJI_MATTING_KEY"),
            api_url=_base(get("XIANGJI_API_URL", "http://api.tosoiot.com")),
            upload_url=_base(get("XIANGJI_UPLOAD_URL", "http://api2.tosoiot.com")),
            account_url=_base(get("XIANGJI_ACCOUNT_URL", "http://www.tosoiot.com")),
            aigc_key=get("XIANGJI_AIGC_KEY"),
            img_trans_google_key=get("XIANGJI_IMG_TRANS_GOOGLE_KEY"),
            img_trans_papago_key=get("XIANGJI_IMG_TRANS_PAPAGO_KEY"),
            img_trans_baidu_key=get("XIANGJI_IMG_TRANS_BAIDU_KEY"),
            img_trans_deepl_key=get("XIANGJI_IMG_TRANS_DEEPL_KEY"),
            video_trans_key=get("XIANGJI_VIDEO_TRANS_KEY"),
            editor_url=_http_url(
                "XIANGJI_EDITOR_URL", get("XIANGJI_EDITOR_URL", DEFAULT_XIANGJI_EDITOR_URL)
            ),
        )

    alibaba = None
    key_id, key_secret = get("ALIBABA_ACCESS_KEY_ID"), get("ALIBABA_ACCESS_KEY_SECRET")
    if key_id and key_secret:
        alibaba = AlibabaSettings(
            access_key_id=key_id,
            access_key_secret=key_secret,
            mt_endpoint=get("ALIBABA_MT_ENDPOINT", "mt.cn-hangzhou.aliyuncs.com"),
            mts_endpoint=get("ALIBABA_MTS_ENDPOINT", "mts.cn-hangzhou.aliyuncs.com"),
            mts_pipeline_id=get("ALIBABA_MTS_PIPELINE_ID"),
            mts_output=get("ALIBABA_MTS_OUTPUT"),
            oss_endpoint=get("ALIBABA_OSS_ENDPOINT"),
            callback_ips=_callback_ips(get("ALIBABA_CALLBACK_IPS")),
        )
    elif key_id or key_secret:
        raise ConfigError(
            "Set both ALIBABA_ACCESS_KEY_ID and ALIBABA_ACCESS_KEY_SECRET, or neither"
        )

    rozetta = None
    access, secret = get("ROZETTA_ACCESS_KEY"), get("ROZETTA_SECRET_KEY")
    if access and secret:
        rozetta = RozettaSettings(
            access_key=access,
            secret_key=secret,
            api_url=_base(get("ROZETTA_API_URL", "https://translate.rozetta-api.io")),
            contract_id=get("ROZETTA_CONTRACT_ID"),
            field_id=get("ROZETTA_FIELD_ID"),
        )
    elif access or secret:
        raise ConfigError("Set both ROZETTA_ACCESS_KEY and ROZETTA_SECRET_KEY, or neither")

    public_url = get("TOLK_PUBLIC_URL")
    if public_url:
        _http_url("TOLK_PUBLIC_URL", public_url)

    hosts = tuple(h.strip().lower() for h in (get("TOLK_ALLOWED_FILE_HOSTS") or "").split(","))
    return Settings(
        slack_bot_token=bot_token,
        slack_app_token=app_token,
        slack_signing_secret=signing_secret,
        slack_api_url=_slack_api_url(get("SLACK_API_URL", DEFAULT_SLACK_API_URL)),
        slack_client_id=get("SLACK_CLIENT_ID"),
        slack_client_secret=get("SLACK_CLIENT_SECRET"),
        secret_key=get("TOLK_SECRET_KEY"),
        shared_provider_keys=_switch("TOLK_SHARED_PROVIDER_KEYS", get("TOLK_SHARED_PROVIDER_KEYS")),
        port=int(number("PORT", 3000)),
        public_url=public_url.rstrip("/") if public_url else None,
        database_url=get("DATABASE_URL", "sqlite:///data/tolk.sqlite"),
        xiangji=xiangji,
        alibaba=alibaba,
        rozetta=rozetta,
        poll_min_seconds=poll_min,
        poll_max_seconds=poll_max,
        task_timeout_seconds=number("TOLK_TASK_TIMEOUT_SECONDS", 3600.0, minimum=1),
        xiangji_submit_per_second=number(
            "TOLK_XIANGJI_SUBMIT_PER_SECOND", XIANGJI_SUBMIT_PER_SECOND, minimum=0.1
        ),
        quota_threshold=int(number("TOLK_QUOTA_THRESHOLD", 100)),
        quota_alert_channel=get("TOLK_QUOTA_ALERT_CHANNEL"),
        admins=frozenset(u.strip() for u in (get("TOLK_ADMINS") or "").split(",") if u.strip()),
        allowed_file_hosts=tuple(h for h in hosts if h) or PROVIDER_RESULT_HOSTS,
        trusted_proxies=_networks("TOLK_TRUSTED_PROXIES", get("TOLK_TRUSTED_PROXIES")),
    )


# The Slack credentials. With none of them set, ``python -m bot`` starts the sandbox; with
# some, they must make a working set (SLACK_API_URL is a base URL, not a credential).
SLACK_CREDENTIALS = (
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_CLIENT_ID",
    "SLACK_CLIENT_SECRET",
)


def _check_slack_set(get: Callable[[str], str | None]) -> None:
    """Some Slack credentials but not a working set: say which variable is missing or
    wrong, rather than start the sandbox or fail later at Slack."""
    bot, app, secret = get("SLACK_BOT_TOKEN"), get("SLACK_APP_TOKEN"), get("SLACK_SIGNING_SECRET")
    client_id, client_secret = get("SLACK_CLIENT_ID"), get("SLACK_CLIENT_SECRET")
    if bot and bot.startswith("xapp-"):
        raise ConfigError(
            "SLACK_BOT_TOKEN holds an app-level token (xapp-…): put that one in SLACK_APP_TOKEN, "
            "and set SLACK_BOT_TOKEN to the Bot User OAuth Token (xoxb-…) from your app's "
            "OAuth & Permissions page."
        )
    if bot and bot.startswith("xoxp-"):
        raise ConfigError(
            "SLACK_BOT_TOKEN holds a user token (xoxp-…): Tolk posts as its bot, so set "
            "SLACK_BOT_TOKEN to the Bot User OAuth Token (xoxb-…) from your app's OAuth & "
            "Permissions page."
        )
    if app and not app.startswith("xapp-"):
        raise ConfigError(
            "SLACK_APP_TOKEN must be an app-level token starting with xapp- (Basic Information "
            "→ App-Level Tokens, scope connections:write)"
            + (
                ": it holds a bot token (xoxb-…), which goes in SLACK_BOT_TOKEN."
                if app.startswith("xoxb-")
                else "."
            )
        )
    if secret and secret.startswith(("xoxb-", "xoxp-", "xapp-")):
        raise ConfigError(
            "SLACK_SIGNING_SECRET holds a token, not the Signing Secret: copy the Signing Secret "
            "from your app's Basic Information page (tokens go in SLACK_BOT_TOKEN and "
            "SLACK_APP_TOKEN)."
        )
    if bool(client_id) != bool(client_secret):
        missing = "SLACK_CLIENT_SECRET" if client_id else "SLACK_CLIENT_ID"
        raise ConfigError(
            f"{missing} is missing: set both SLACK_CLIENT_ID and SLACK_CLIENT_SECRET "
            "(Basic Information → App Credentials), or neither."
        )
    if client_id:
        _check_installable(get, bot=bot, app=app, secret=secret)
        return
    if not bot and (app or secret):
        given = [
            name
            for name, value in (("SLACK_APP_TOKEN", app), ("SLACK_SIGNING_SECRET", secret))
            if value
        ]
        names = " and ".join(given)
        are = "are" if len(given) > 1 else "is"
        raise ConfigError(
            f"SLACK_BOT_TOKEN is missing ({names} {are} set): copy the Bot User OAuth Token "
            f"(xoxb-…) from your app's OAuth & Permissions page, or unset {names} to run the "
            "sandbox. To install Tolk in many workspaces instead, set SLACK_CLIENT_ID and "
            "SLACK_CLIENT_SECRET."
        )
    if bot and not app and not secret:
        raise ConfigError(
            "SLACK_SIGNING_SECRET is missing (SLACK_BOT_TOKEN is set, no SLACK_APP_TOKEN): "
            "for HTTP mode copy it from your app's Basic Information page, or set "
            "SLACK_APP_TOKEN (xapp-…) to use Socket Mode instead."
        )


def _check_installable(
    get: Callable[[str], str | None], *, bot: str | None, app: str | None, secret: str | None
) -> None:
    """SLACK_CLIENT_ID and SLACK_CLIENT_SECRET: installed by OAuth, one token per workspace."""
    if bot:
        raise ConfigError(
            "SLACK_BOT_TOKEN and SLACK_CLIENT_ID are both set: set SLACK_BOT_TOKEN for one "
            "workspace, or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET to be installed in many "
            "(each workspace's token then comes from its install), not both."
        )
    if app:
        raise ConfigError(
            "SLACK_APP_TOKEN is set with SLACK_CLIENT_ID: an app installed in many workspaces "
            "receives Slack's requests over HTTP (the Marketplace takes only those), so unset "
            "SLACK_APP_TOKEN and set SLACK_SIGNING_SECRET and TOLK_PUBLIC_URL."
        )
    if not secret:
        raise ConfigError(
            "SLACK_SIGNING_SECRET is missing (SLACK_CLIENT_ID is set): copy it from your app's "
            "Basic Information page; requests from every workspace are checked with it."
        )
    if not get("TOLK_PUBLIC_URL"):
        raise ConfigError(
            "TOLK_PUBLIC_URL is missing (SLACK_CLIENT_ID is set): installs come back to "
            "TOLK_PUBLIC_URL/slack/oauth_redirect, the Redirect URL in your app's OAuth & "
            "Permissions page, so set it to this service's public https address."
        )
    key = get("TOLK_SECRET_KEY")
    if not key:
        raise ConfigError(
            "TOLK_SECRET_KEY is missing (SLACK_CLIENT_ID is set): workspaces' tokens and keys "
            f"are stored encrypted with it. Generate one with {GENERATE}"
        )
    try:
        Sealer(key)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _switch(name: str, value: str | None) -> bool:
    if value is None or value.lower() in ("off", "0", "false", "no"):
        return False
    if value.lower() in ("on", "1", "true", "yes"):
        return True
    raise ConfigError(f"{name} must be on or off, got {value!r}")


def _networks(
    name: str, value: str | None
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Comma-separated addresses or networks (``10.0.0.5``, ``10.0.0.0/24``)."""
    networks = []
    for entry in (value or "").split(","):
        if entry.strip():
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                raise ConfigError(
                    f"{name} must be comma-separated IP addresses or networks (10.0.0.0/24); "
                    f"{entry.strip()!r} is neither"
                ) from None
    return tuple(networks)


def _callback_ips(value: str | None) -> tuple[str, ...]:
    """``ALIBABA_CALLBACK_IPS``: unset = any address (local use); ``alibaba`` = the
    documented list; otherwise a comma-separated list of addresses."""
    if not value:
        return ()
    if value.lower() == "alibaba":
        return CALLBACK_SOURCE_IPS
    ips = tuple(ip.strip() for ip in value.split(",") if ip.strip())
    for ip in ips:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise ConfigError(
                f"ALIBABA_CALLBACK_IPS must be `alibaba` or comma-separated IP addresses; "
                f"{ip!r} is not an IP address"
            ) from None
    return ips


def _http_url(name: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an http(s) URL, got {url!r}")
    return url.rstrip("/")


def _base(url: str) -> str:
    return url.rstrip("/")


def _slack_api_url(url: str) -> str:
    return url if url.endswith("/") else url + "/"
