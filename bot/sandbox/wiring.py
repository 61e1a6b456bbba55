"""The settings that point Tolk at the bundled emulators — shared by the sandbox, the
tests and the benchmarks, so all three run the code a real deployment runs."""

from __future__ import annotations

from urllib.parse import urlsplit

from bot.sandbox.slack_emulator import SlackEmulator
from providers.xiangji.emulator import XiangjiEmulator


def emulator_env(
    slack: SlackEmulator, xiangji: XiangjiEmulator, *, signing_secret: str, database_url: str
) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": signing_secret,
        "SLACK_API_URL": slack.api_url,
        "PORT": "0",
        "DATABASE_URL": database_url,
        "XIANGJI_USER_KEY": xiangji.user_key,
        "XIANGJI_IMG_TRANS_KEY": xiangji.keys[1],
        "XIANGJI_TEXT_TRANS_KEY": xiangji.keys[2],
        "XIANGJI_MATTING_KEY": xiangji.keys[8],
        "XIANGJI_API_URL": xiangji.api_url,
        "XIANGJI_UPLOAD_URL": xiangji.upload_url,
        "XIANGJI_ACCOUNT_URL": xiangji.account_url,
        "TOLK_ALLOWED_FILE_HOSTS": urlsplit(xiangji.base_url).netloc,
    }
