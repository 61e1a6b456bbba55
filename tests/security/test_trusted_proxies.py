"""Behind a reverse proxy: ``X-Forwarded-For`` counts only when the peer is a proxy named
in ``TOLK_TRUSTED_PROXIES``; anyone else's header is ignored (it is theirs to forge)."""

# ruff: noqa: F811 - the Alibaba emulator fixture is imported and asked for by name

from __future__ import annotations

import pytest

from tests.test_alibaba_e2e import alibaba, alibaba_env, running  # noqa: F401
from tests.test_commands_e2e import task_id_in

ALIBABA_SOURCE = "106.15.27.10"  # stands in for one of Alibaba's callback addresses


@pytest.mark.parametrize(
    ("proxies", "forwarded", "status"),
    [
        ("", ALIBABA_SOURCE, 403),  # loopback peer, not a proxy: its header is ignored
        ("127.0.0.1", ALIBABA_SOURCE, 200),  # the proxy says who called it
        ("127.0.0.0/8", f"203.0.113.9, {ALIBABA_SOURCE}", 200),  # the nearest hop counts
        ("127.0.0.1", f"{ALIBABA_SOURCE}, 203.0.113.9", 403),  # a forged first entry
        ("127.0.0.1", "", 403),  # the proxy itself is not Alibaba
    ],
)
async def test_a_callback_source_is_read_through_trusted_proxies_only(
    slack, xiangji, alibaba, tmp_path, proxies, forwarded, status
):
    env = alibaba_env(
        slack,
        xiangji,
        alibaba,
        tmp_path,
        ALIBABA_CALLBACK_IPS=ALIBABA_SOURCE,
        TOLK_TRUSTED_PROXIES=proxies,
    )
    async for tolk in running(env):
        _, body = await tolk.command("/translate-doc", f"en>ja {alibaba.sample_doc_url()}")
        url = tolk.services.links.callback_url("alibaba", task_id_in(body))
        headers = {"X-Forwarded-For": forwarded} if forwarded else {}
        async with tolk.session.post(url, json={"status": "translated"}, headers=headers) as r:
            assert r.status == status


def test_trusted_proxies_must_be_addresses(slack, xiangji, alibaba, tmp_path):
    from bot.config import ConfigError, load_settings

    env = alibaba_env(slack, xiangji, alibaba, tmp_path, TOLK_TRUSTED_PROXIES="proxy.internal")
    with pytest.raises(ConfigError, match="TOLK_TRUSTED_PROXIES"):
        load_settings(env)


async def test_a_stream_of_forged_callbacks_writes_one_log_line(
    slack, xiangji, alibaba, tmp_path, caplog
):
    env = alibaba_env(slack, xiangji, alibaba, tmp_path)
    async for tolk in running(env):
        _, body = await tolk.command("/translate-doc", f"en>ja {alibaba.sample_doc_url()}")
        url = tolk.services.links.callback_url("alibaba", task_id_in(body))
        caplog.clear()
        for n in range(200):
            async with tolk.session.post(url[:-4] + f"{n:04d}", json={}) as resp:
                assert resp.status == 404
        lines = [r for r in caplog.records if r.name == "handlers.web.callbacks"]
        assert len(lines) == 1 and "wrong token" in lines[0].getMessage()
