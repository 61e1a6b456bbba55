"""The settings that point Tolk at the bundled emulators — shared by the sandbox, the
tests and the benchmarks, so all three run the code a real deployment runs."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from emulators.alibaba import AlibabaMTEmulator
from emulators.mts import MtsEmulator
from emulators.rozetta import RozettaEmulator
from emulators.slack import SlackEmulator
from emulators.xiangji import XiangjiEmulator
from providers.xiangji.wire import QUOTA_KEY_ATTRS, key_env


def emulator_env(
    slack: SlackEmulator,
    xiangji: XiangjiEmulator,
    *,
    signing_secret: str,
    database_url: str,
    alibaba: AlibabaMTEmulator | None = None,
    rozetta: RozettaEmulator | None = None,
    mts: MtsEmulator | None = None,
    port: int = 0,
) -> dict[str, str]:
    """With ``port`` (a fixed one), Tolk has a public address on loopback: for Alibaba's
    signed links and callbacks, and for the Refine pages a browser opens."""
    env = {
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": signing_secret,
        "SLACK_API_URL": slack.api_url,
        "PORT": str(port),
        "DATABASE_URL": database_url,
        "XIANGJI_USER_KEY": xiangji.user_key,
        "XIANGJI_API_URL": xiangji.api_url,
        "XIANGJI_UPLOAD_URL": xiangji.upload_url,
        "XIANGJI_ACCOUNT_URL": xiangji.account_url,
        "XIANGJI_AIGC_KEY": xiangji.aigc_key,
        "XIANGJI_EDITOR_URL": xiangji.base_url,  # the stand-in editor pages
    }
    # Every key the emulator knows (one per quota Type): each image engine, text,
    # matting and video, so `/tolk quota` shows them all and every engine can be picked.
    for quota_type, attr in QUOTA_KEY_ATTRS.items():
        if xiangji.keys.get(quota_type):
            env[key_env(attr)] = xiangji.keys[quota_type]
    if port:
        env["TOLK_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    result_hosts = [xiangji.base_url]  # where results are downloaded from
    if alibaba is not None:
        key_id, secret = next(iter(alibaba.keys.items()))
        env |= {
            "ALIBABA_ACCESS_KEY_ID": key_id,
            "ALIBABA_ACCESS_KEY_SECRET": secret,
            "ALIBABA_MT_ENDPOINT": alibaba.endpoint,
        }
        result_hosts.append(alibaba.endpoint)
    if mts is not None:
        key_id, secret = next(iter(mts.keys.items()))
        result_hosts.append(mts.oss.endpoint)
        env |= {
            "ALIBABA_ACCESS_KEY_ID": key_id,
            "ALIBABA_ACCESS_KEY_SECRET": secret,
            "ALIBABA_MTS_ENDPOINT": mts.endpoint,
            "ALIBABA_MTS_OUTPUT": "oss://tolk-media.oss-cn-hangzhou.aliyuncs.com/tolk/",
            "ALIBABA_OSS_ENDPOINT": mts.oss.endpoint,
        }
    if rozetta is not None:
        access, secret = next(iter(rozetta.keys.items()))
        env |= {
            "ROZETTA_ACCESS_KEY": access,
            "ROZETTA_SECRET_KEY": secret,
            "ROZETTA_API_URL": rozetta.base_url,
            "ROZETTA_CONTRACT_ID": rozetta.contract_id or "",
            "ROZETTA_FIELD_ID": sorted(rozetta.field_ids)[0],
        }
    env["TOLK_ALLOWED_FILE_HOSTS"] = ",".join(urlsplit(url).netloc for url in result_hosts)
    return env


def free_port() -> int:
    """A loopback port nobody holds right now (for a public URL known before start)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
