"""Settings from a plain mapping: defaults, Slack mode, providers on/off, parsing, secrets."""

from __future__ import annotations

import pytest

from bot.config import (
    PROVIDER_RESULT_HOSTS,
    AlibabaSettings,
    ConfigError,
    Mode,
    RozettaSettings,
    Settings,
    XiangjiSettings,
    load_settings,
)

HTTP = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "signing-1"}

# One distinctive value per secret variable, so a leak in repr is unmistakable.
SECRETS = {
    "SLACK_BOT_TOKEN": "xoxb-SECRET-bot-0001",
    "SLACK_APP_TOKEN": "xapp-SECRET-app-0002",
    "SLACK_SIGNING_SECRET": "SECRET-signing-0003",
    "XIANGJI_USER_KEY": "SECRET-xj-user-0004",
    "XIANGJI_IMG_TRANS_KEY": "SECRET-xj-img-0005",
    "XIANGJI_TEXT_TRANS_KEY": "SECRET-xj-text-0006",
    "XIANGJI_MATTING_KEY": "SECRET-xj-matting-0007",
    "ALIBABA_ACCESS_KEY_ID": "SECRET-ali-id-0008",
    "ALIBABA_ACCESS_KEY_SECRET": "SECRET-ali-secret-0009",
    "ROZETTA_ACCESS_KEY": "SECRET-roz-access-0010",
    "ROZETTA_SECRET_KEY": "SECRET-roz-secret-0011",
}


def refused(env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    return str(info.value)


# --- defaults ----------------------------------------------------------------------------


def test_empty_environment_gives_every_default() -> None:
    s = load_settings({})
    assert s.slack_bot_token is None
    assert s.slack_app_token is None
    assert s.slack_signing_secret is None
    assert s.slack_api_url == "https://slack.com/api/"
    assert s.port == 3000
    assert isinstance(s.port, int)
    assert s.public_url is None
    assert s.database_url == "sqlite:///data/tolk.sqlite"
    assert s.sqlite_path == "data/tolk.sqlite"
    assert s.xiangji is None
    assert s.alibaba is None
    assert s.rozetta is None
    assert s.poll_min_seconds == 2.0
    assert s.poll_max_seconds == 60.0
    assert s.task_timeout_seconds == 3600.0
    assert s.quota_threshold == 100
    assert isinstance(s.quota_threshold, int)
    assert s.quota_alert_channel is None
    assert s.admins == frozenset()
    assert s.allowed_file_hosts == PROVIDER_RESULT_HOSTS
    assert s.mode is Mode.SANDBOX
    assert s.secrets == ()


def test_default_result_hosts_are_the_providers_own() -> None:
    assert set(PROVIDER_RESULT_HOSTS) == {
        "i.tosoiot.com",
        "*.tosoiot.com",
        "*.alicdn.com",
        "*.aliyuncs.com",
        "*.rozetta-api.io",
    }


def test_empty_and_blank_values_count_as_unset() -> None:
    blank = {
        name: "  "
        for name in (
            "SLACK_BOT_TOKEN",
            "SLACK_APP_TOKEN",
            "SLACK_SIGNING_SECRET",
            "SLACK_API_URL",
            "PORT",
            "DATABASE_URL",
            "XIANGJI_USER_KEY",
            "ALIBABA_ACCESS_KEY_ID",
            "ROZETTA_ACCESS_KEY",
            "TOLK_POLL_MIN_SECONDS",
            "TOLK_ADMINS",
            "TOLK_ALLOWED_FILE_HOSTS",
        )
    }
    assert load_settings(blank) == load_settings({})


def test_set_values_are_read() -> None:
    s = load_settings(
        {
            "PORT": "8080",
            "DATABASE_URL": "sqlite:///tmp/x.sqlite",
            "TOLK_POLL_MIN_SECONDS": "0.5",
            "TOLK_POLL_MAX_SECONDS": "30",
            "TOLK_TASK_TIMEOUT_SECONDS": "120",
            "TOLK_QUOTA_THRESHOLD": "25",
            "TOLK_QUOTA_ALERT_CHANNEL": "C0ALERTS",
            "TOLK_PUBLIC_URL": "https://tolk.example.com/",
        }
    )
    assert s.port == 8080
    assert s.database_url == "sqlite:///tmp/x.sqlite"
    assert s.sqlite_path == "tmp/x.sqlite"
    assert s.poll_min_seconds == 0.5
    assert s.poll_max_seconds == 30.0
    assert s.task_timeout_seconds == 120.0
    assert s.quota_threshold == 25
    assert s.quota_alert_channel == "C0ALERTS"
    assert s.public_url == "https://tolk.example.com"


def test_sqlite_path_refuses_other_database_urls() -> None:
    s = load_settings({"DATABASE_URL": "postgresql://db/tolk"})
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        _ = s.sqlite_path


# --- Slack mode --------------------------------------------------------------------------


def test_no_bot_token_is_sandbox() -> None:
    assert load_settings({}).mode is Mode.SANDBOX


def test_bot_and_app_token_is_socket_mode() -> None:
    s = load_settings({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"})
    assert s.mode is Mode.SOCKET
    assert s.slack_app_token == "xapp-1"


def test_app_token_wins_over_signing_secret() -> None:
    s = load_settings({**HTTP, "SLACK_APP_TOKEN": "xapp-1"})
    assert s.mode is Mode.SOCKET


def test_bot_token_and_signing_secret_is_http_mode() -> None:
    s = load_settings(HTTP)
    assert s.mode is Mode.HTTP
    assert s.slack_bot_token == "xoxb-1"
    assert s.slack_signing_secret == "signing-1"


def test_bot_token_alone_is_refused_naming_the_signing_secret() -> None:
    message = refused({"SLACK_BOT_TOKEN": "xoxb-1"})
    assert "SLACK_SIGNING_SECRET" in message
    assert "SLACK_APP_TOKEN" in message  # the other way out


def test_app_token_must_be_an_app_level_token() -> None:
    message = refused({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xoxb-wrong"})
    assert "SLACK_APP_TOKEN" in message
    assert "xapp-" in message


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"SLACK_SIGNING_SECRET": "signing-1"}, ["SLACK_SIGNING_SECRET"]),
        ({"SLACK_APP_TOKEN": "xapp-1"}, ["SLACK_APP_TOKEN"]),
        (
            {"SLACK_APP_TOKEN": "xapp-1", "SLACK_SIGNING_SECRET": "signing-1"},
            ["SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"],
        ),
    ],
)
def test_some_slack_credentials_without_a_bot_token_name_it(
    env: dict[str, str], names: list[str]
) -> None:
    """Not the sandbox: the person meant to connect to Slack and left one out."""
    message = refused(env)
    assert message.startswith("SLACK_BOT_TOKEN is missing")
    assert all(name in message for name in names)  # what is set, to unset for the sandbox
    assert "\n" not in message


@pytest.mark.parametrize("missing", ["SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET"])
def test_half_of_the_client_credentials_is_refused(missing: str) -> None:
    env = {**HTTP, "SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "c-1"}
    del env[missing]
    assert refused(env).startswith(f"{missing} is missing")


KEY = "x" * 43 + "="  # a Fernet key: 32 bytes, url-safe base64
INSTALLABLE = {
    "SLACK_CLIENT_ID": "1.2",
    "SLACK_CLIENT_SECRET": "c-1",
    "SLACK_SIGNING_SECRET": "signing-1",
    "TOLK_SECRET_KEY": KEY,
    "TOLK_PUBLIC_URL": "https://tolk.example.com",
}


def test_client_credentials_make_tolk_installable_over_http() -> None:
    settings = load_settings(INSTALLABLE)
    assert settings.mode is Mode.HTTP and settings.installable
    assert settings.slack_bot_token is None
    assert not settings.shared_provider_keys  # the operator's keys are not lent by default
    assert "c-1" in settings.secrets and KEY in settings.secrets  # redacted from logs


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "not both"),
        ({"SLACK_APP_TOKEN": "xapp-1"}, "unset SLACK_APP_TOKEN"),
        ({"SLACK_SIGNING_SECRET": ""}, "SLACK_SIGNING_SECRET is missing"),
        ({"TOLK_SECRET_KEY": ""}, "TOLK_SECRET_KEY is missing"),
        ({"TOLK_PUBLIC_URL": ""}, "TOLK_PUBLIC_URL is missing"),
        ({"TOLK_SECRET_KEY": "hunter2"}, "not a Fernet key"),
        ({"TOLK_SHARED_PROVIDER_KEYS": "maybe"}, "must be on or off"),
    ],
)
def test_an_installable_set_that_cannot_work_is_refused(change: dict[str, str], said: str) -> None:
    message = refused({**INSTALLABLE, **change})
    assert said in message
    assert "hunter2" not in message  # a wrong secret is named, never shown


def test_shared_provider_keys_is_a_switch() -> None:
    env = {**INSTALLABLE, "TOLK_SHARED_PROVIDER_KEYS": "on"}
    assert load_settings(env).shared_provider_keys


def test_the_api_url_alone_is_still_the_sandbox() -> None:
    """``.env.example`` fills it in; it is a base URL, not a credential."""
    assert load_settings({"SLACK_API_URL": "https://slack.com/api/"}).mode is Mode.SANDBOX


@pytest.mark.parametrize(
    ("token", "said"),
    [("xapp-1-A0-1-abc", "app-level token (xapp-…)"), ("xoxp-1-abc", "user token (xoxp-…)")],
)
def test_a_bot_token_of_the_wrong_kind_is_refused_here(token: str, said: str) -> None:
    message = refused({**HTTP, "SLACK_BOT_TOKEN": token})
    assert message.startswith("SLACK_BOT_TOKEN holds") and said in message
    assert "xoxb-" in message  # what belongs there


def test_a_token_in_the_signing_secret_is_refused() -> None:
    message = refused({**HTTP, "SLACK_SIGNING_SECRET": "xoxb-1-abc"})
    assert message.startswith("SLACK_SIGNING_SECRET holds a token")


# --- numbers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "PORT",
        "TOLK_POLL_MIN_SECONDS",
        "TOLK_POLL_MAX_SECONDS",
        "TOLK_TASK_TIMEOUT_SECONDS",
        "TOLK_QUOTA_THRESHOLD",
    ],
)
@pytest.mark.parametrize("value", ["abc", "12s", "1,5"])
def test_a_non_number_is_refused_naming_the_variable(name: str, value: str) -> None:
    message = refused({name: value})
    assert name in message
    assert value in message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "-1"),
        ("TOLK_POLL_MIN_SECONDS", "0"),
        ("TOLK_POLL_MAX_SECONDS", "0"),
        ("TOLK_TASK_TIMEOUT_SECONDS", "0.5"),
        ("TOLK_QUOTA_THRESHOLD", "-5"),
    ],
)
def test_a_number_below_its_minimum_is_refused_naming_the_variable(name: str, value: str) -> None:
    assert name in refused({name: value})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "nan"),
        ("PORT", "inf"),
        ("TOLK_QUOTA_THRESHOLD", "nan"),
        ("TOLK_POLL_MIN_SECONDS", "nan"),
        ("TOLK_TASK_TIMEOUT_SECONDS", "nan"),
    ],
)
def test_non_finite_numbers_are_refused_naming_the_variable(name: str, value: str) -> None:
    assert name in refused({name: value})


def test_poll_max_below_poll_min_is_refused() -> None:
    message = refused({"TOLK_POLL_MIN_SECONDS": "10", "TOLK_POLL_MAX_SECONDS": "5"})
    assert "TOLK_POLL_MAX_SECONDS" in message
    assert "TOLK_POLL_MIN_SECONDS" in message


def test_poll_max_below_the_default_min_is_refused() -> None:
    assert "TOLK_POLL_MAX_SECONDS" in refused({"TOLK_POLL_MAX_SECONDS": "1"})


def test_poll_max_equal_to_min_is_fine() -> None:
    s = load_settings({"TOLK_POLL_MIN_SECONDS": "5", "TOLK_POLL_MAX_SECONDS": "5"})
    assert (s.poll_min_seconds, s.poll_max_seconds) == (5.0, 5.0)


# --- providers ---------------------------------------------------------------------------


def test_xiangji_is_off_without_its_user_key() -> None:
    s = load_settings({"XIANGJI_IMG_TRANS_KEY": "img", "XIANGJI_TEXT_TRANS_KEY": "text"})
    assert s.xiangji is None
    assert s.secrets == ()


def test_xiangji_with_only_the_user_key_uses_default_urls() -> None:
    s = load_settings({"XIANGJI_USER_KEY": "user"})
    assert s.xiangji == XiangjiSettings(
        user_key="user",
        img_trans_key=None,
        text_trans_key=None,
        matting_key=None,
        api_url="http://api.tosoiot.com",
        upload_url="http://api2.tosoiot.com",
        account_url="http://www.tosoiot.com",
    )


def test_xiangji_keys_and_urls_are_read_and_urls_lose_trailing_slash() -> None:
    s = load_settings(
        {
            "XIANGJI_USER_KEY": "user",
            "XIANGJI_IMG_TRANS_KEY": "img",
            "XIANGJI_TEXT_TRANS_KEY": "text",
            "XIANGJI_MATTING_KEY": "matting",
            "XIANGJI_API_URL": "http://127.0.0.1:9000/",
            "XIANGJI_UPLOAD_URL": "http://127.0.0.1:9001//",
            "XIANGJI_ACCOUNT_URL": "http://127.0.0.1:9002",
        }
    )
    assert s.xiangji == XiangjiSettings(
        user_key="user",
        img_trans_key="img",
        text_trans_key="text",
        matting_key="matting",
        api_url="http://127.0.0.1:9000",
        upload_url="http://127.0.0.1:9001",
        account_url="http://127.0.0.1:9002",
    )


def test_alibaba_is_off_without_keys() -> None:
    assert load_settings({"ALIBABA_MT_ENDPOINT": "mt.example.com"}).alibaba is None


def test_alibaba_with_both_keys_uses_defaults() -> None:
    s = load_settings({"ALIBABA_ACCESS_KEY_ID": "id", "ALIBABA_ACCESS_KEY_SECRET": "secret"})
    assert s.alibaba == AlibabaSettings(
        access_key_id="id",
        access_key_secret="secret",
        mt_endpoint="mt.cn-hangzhou.aliyuncs.com",
        mts_endpoint="mts.cn-hangzhou.aliyuncs.com",
        mts_pipeline_id=None,
        mts_output=None,
        oss_endpoint=None,
    )


def test_alibaba_optional_settings_are_read() -> None:
    s = load_settings(
        {
            "ALIBABA_ACCESS_KEY_ID": "id",
            "ALIBABA_ACCESS_KEY_SECRET": "secret",
            "ALIBABA_MT_ENDPOINT": "mt.ap-southeast-1.aliyuncs.com",
            "ALIBABA_MTS_ENDPOINT": "http://127.0.0.1:9100",
            "ALIBABA_MTS_PIPELINE_ID": "pipe-1",
            "ALIBABA_MTS_OUTPUT": "oss://bucket/out/",
            "ALIBABA_OSS_ENDPOINT": "oss-cn-shanghai.aliyuncs.com",
        }
    )
    assert s.alibaba is not None
    assert s.alibaba.mt_endpoint == "mt.ap-southeast-1.aliyuncs.com"
    assert s.alibaba.mts_endpoint == "http://127.0.0.1:9100"
    assert s.alibaba.mts_pipeline_id == "pipe-1"
    assert s.alibaba.mts_output == "oss://bucket/out/"
    assert s.alibaba.oss_endpoint == "oss-cn-shanghai.aliyuncs.com"


@pytest.mark.parametrize(
    "env",
    [{"ALIBABA_ACCESS_KEY_ID": "id"}, {"ALIBABA_ACCESS_KEY_SECRET": "secret"}],
)
def test_half_configured_alibaba_is_refused(env: dict[str, str]) -> None:
    message = refused(env)
    assert "ALIBABA_ACCESS_KEY_ID" in message
    assert "ALIBABA_ACCESS_KEY_SECRET" in message


def test_rozetta_is_off_without_keys() -> None:
    assert load_settings({"ROZETTA_CONTRACT_ID": "c1"}).rozetta is None


def test_rozetta_with_both_keys_uses_defaults() -> None:
    s = load_settings({"ROZETTA_ACCESS_KEY": "access", "ROZETTA_SECRET_KEY": "secret"})
    assert s.rozetta == RozettaSettings(
        access_key="access",
        secret_key="secret",
        api_url="https://translate.rozetta-api.io",
        contract_id=None,
        field_id=None,
    )


def test_rozetta_optional_settings_are_read() -> None:
    s = load_settings(
        {
            "ROZETTA_ACCESS_KEY": "access",
            "ROZETTA_SECRET_KEY": "secret",
            "ROZETTA_API_URL": "http://127.0.0.1:9200/",
            "ROZETTA_CONTRACT_ID": "contract",
            "ROZETTA_FIELD_ID": "1",
        }
    )
    assert s.rozetta is not None
    assert s.rozetta.api_url == "http://127.0.0.1:9200"
    assert s.rozetta.contract_id == "contract"
    assert s.rozetta.field_id == "1"


@pytest.mark.parametrize(
    "env", [{"ROZETTA_ACCESS_KEY": "access"}, {"ROZETTA_SECRET_KEY": "secret"}]
)
def test_half_configured_rozetta_is_refused(env: dict[str, str]) -> None:
    message = refused(env)
    assert "ROZETTA_ACCESS_KEY" in message
    assert "ROZETTA_SECRET_KEY" in message


# --- URLs and lists ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://127.0.0.1:8999/api", "http://127.0.0.1:8999/api/"),
        ("http://127.0.0.1:8999/api/", "http://127.0.0.1:8999/api/"),
        ("https://slack.com/api/", "https://slack.com/api/"),
    ],
)
def test_slack_api_url_ends_with_a_slash(given: str, expected: str) -> None:
    assert load_settings({"SLACK_API_URL": given}).slack_api_url == expected


def test_public_url_must_be_http() -> None:
    message = refused({"TOLK_PUBLIC_URL": "ftp://tolk.example.com"})
    assert "TOLK_PUBLIC_URL" in message


def test_admins_are_a_set_of_trimmed_ids() -> None:
    s = load_settings({"TOLK_ADMINS": " U01ABC, U02DEF,,U01ABC ,  "})
    assert s.admins == frozenset({"U01ABC", "U02DEF"})


def test_single_admin() -> None:
    assert load_settings({"TOLK_ADMINS": "U01ABC"}).admins == frozenset({"U01ABC"})


def test_allowed_file_hosts_are_trimmed_lowercased_and_ordered() -> None:
    s = load_settings(
        {"TOLK_ALLOWED_FILE_HOSTS": " Files.Example.com, *.CDN.example.org ,, 127.0.0.1:8080,"}
    )
    assert s.allowed_file_hosts == ("files.example.com", "*.cdn.example.org", "127.0.0.1:8080")


def test_allowed_file_hosts_of_only_separators_fall_back_to_defaults() -> None:
    s = load_settings({"TOLK_ALLOWED_FILE_HOSTS": " , ,"})
    assert s.allowed_file_hosts == PROVIDER_RESULT_HOSTS


# --- secrets -----------------------------------------------------------------------------


def test_secrets_lists_every_configured_secret() -> None:
    s = load_settings(SECRETS)
    assert sorted(s.secrets) == sorted(SECRETS.values())


def test_secrets_leaves_out_unset_ones() -> None:
    s = load_settings({**HTTP, "XIANGJI_USER_KEY": "user-key"})
    assert sorted(s.secrets) == sorted(["xoxb-1", "signing-1", "user-key"])


def test_repr_shows_no_secret() -> None:
    s = load_settings(SECRETS)
    text = repr(s)
    for name, value in SECRETS.items():
        assert value not in text, f"{name} leaked into repr(settings)"
    assert str(s) == text
    # repr still shows the harmless settings, so the object is worth logging
    assert "slack_api_url='https://slack.com/api/'" in text
    assert "api_url='http://api.tosoiot.com'" in text


@pytest.mark.parametrize("part", ["xiangji", "alibaba", "rozetta"])
def test_provider_settings_repr_shows_no_secret(part: str) -> None:
    text = repr(getattr(load_settings(SECRETS), part))
    for value in SECRETS.values():
        assert value not in text


def test_database_password_is_not_in_repr_or_is_a_secret() -> None:
    password = "SECRET-db-password-0012"
    s = load_settings({"DATABASE_URL": f"postgresql://tolk:{password}@db.internal/tolk"})
    assert password not in repr(s)
    assert password in s.secrets


def test_settings_are_frozen() -> None:
    s = load_settings({})
    with pytest.raises(AttributeError):
        s.port = 1  # type: ignore[misc]
    assert isinstance(s, Settings)


def test_alibaba_callback_addresses() -> None:
    keys = {"ALIBABA_ACCESS_KEY_ID": "id", "ALIBABA_ACCESS_KEY_SECRET": "secret"}
    assert load_settings(keys).alibaba.callback_ips == ()  # any address (local use)
    documented = load_settings({**keys, "ALIBABA_CALLBACK_IPS": "alibaba"}).alibaba
    assert "59.82.61.52" in documented.callback_ips and len(documented.callback_ips) == 6
    own = load_settings({**keys, "ALIBABA_CALLBACK_IPS": "10.0.0.1, ::1"}).alibaba
    assert own.callback_ips == ("10.0.0.1", "::1")
    with pytest.raises(ConfigError, match="ALIBABA_CALLBACK_IPS") as exc:
        load_settings({**keys, "ALIBABA_CALLBACK_IPS": "10.0.0.1,alibaba.com"})
    assert "'alibaba.com' is not an IP address" in str(exc.value)


def test_xiangji_submissions_a_second_is_a_setting() -> None:
    """``TOLK_XIANGJI_SUBMIT_PER_SECOND``: the default is the measured one, a value is
    taken as written, and the bucket the engine waits on is built from it."""
    from bot.engine.ratelimit import XIANGJI_SUBMIT_PER_SECOND, provider_limits

    assert load_settings({}).xiangji_submit_per_second == XIANGJI_SUBMIT_PER_SECOND == 10.0
    chosen = load_settings({"TOLK_XIANGJI_SUBMIT_PER_SECOND": "3.5"})
    assert chosen.xiangji_submit_per_second == 3.5
    assert provider_limits(chosen.xiangji_submit_per_second)["xiangji.submit"] == (3.5, 7)
    for bad in ("0", "-2", "fast", "inf"):
        assert "TOLK_XIANGJI_SUBMIT_PER_SECOND" in refused({"TOLK_XIANGJI_SUBMIT_PER_SECOND": bad})
