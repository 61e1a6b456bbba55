"""What an operator sees: /metrics in the Prometheus text format, and log lines that
name the task, provider, operation and latency."""

from __future__ import annotations

import json
import logging

from prometheus_client.parser import text_string_to_metric_families

from bot.core.logs import JsonFormatter, TextFormatter
from tests.test_commands_e2e import task_id_in


async def scrape(tolk) -> dict[str, dict[tuple, float]]:
    async with tolk.session.get(f"http://127.0.0.1:{tolk.port}/metrics") as resp:
        assert resp.status == 200 and resp.content_type == "text/plain"
        text = await resp.text()
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return samples


def total(samples: dict[str, dict[tuple, float]], name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(v for k, v in samples.get(name, {}).items() if wanted <= set(k))


async def test_metrics_count_tasks_calls_acks_and_delivery(tolk, xiangji):
    urls = " ".join(xiangji.sample_url(f"m{i}") for i in range(3))
    await tolk.command("/translate-image", f"zh>ko {urls}")
    await tolk.command("/translate", "zh>en 你好")
    await tolk.settle()
    m = await scrape(tolk)
    assert total(m, "tolk_tasks_created_total", operation="xiangji.translate_image") == 1
    assert total(m, "tolk_tasks_finished_total", state="delivered") == 2
    assert total(m, "tolk_provider_calls_total", provider="xiangji", status="200") >= 3
    assert total(m, "tolk_provider_call_seconds_count", provider="xiangji") >= 3
    assert total(m, "tolk_slack_ack_seconds_count", kind="command") == 2
    assert total(m, "tolk_delivery_lag_seconds_count", provider="xiangji") >= 3
    assert total(m, "tolk_tasks") == 0  # nothing left unsettled
    assert "tolk_provider_calls_total" in m and not any(
        dict(k).get("provider") == "slack" for k in m["tolk_provider_calls_total"]
    )


async def test_unsettled_tasks_are_counted_by_state(tolk, xiangji):
    xiangji.pending_polls = 10**6
    urls = " ".join(xiangji.sample_url(f"w{i}") for i in range(2))
    await tolk.command("/translate-image", f"zh>ko {urls}")
    await tolk.services.poller.drain()
    m = await scrape(tolk)
    assert total(m, "tolk_tasks", state="submitted") + total(m, "tolk_tasks", state="running") == 1


async def test_provider_errors_are_counted_by_code(tolk, xiangji):
    xiangji.faults.code("GetImageTranslate", 105)
    await tolk.command("/translate-image", f"zh>ko {xiangji.sample_url('bad')}")
    await tolk.settle()
    m = await scrape(tolk)
    assert total(m, "tolk_provider_errors_total", provider="xiangji", code="105") == 1
    assert total(m, "tolk_tasks_finished_total", state="failed") == 1


async def test_quota_left_is_exported_after_a_reading(tolk, xiangji):
    await tolk.services.quota.read_all()
    m = await scrape(tolk)
    assert total(m, "tolk_quota_left") > 0


async def test_provider_calls_are_logged_with_task_provider_operation_and_latency(
    tolk, xiangji, caplog
):
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="bot.calls")
    _, body = await tolk.command("/translate-image", f"zh>ko {xiangji.sample_url('log')}")
    await tolk.settle()
    calls = [r for r in caplog.records if r.name == "bot.calls"]
    assert calls
    entry = json.loads(JsonFormatter().format(calls[0]))
    assert entry["task"] == task_id_in(body) and entry["provider"] == "xiangji"
    assert entry["operation"] == "xiangji.translate_image" and entry["latency_ms"] >= 0
    line = TextFormatter().format(calls[0])
    assert f"task={task_id_in(body)}" in line and "provider=xiangji" in line
    finished = [r for r in caplog.records if "delivered after" in r.getMessage()]
    assert finished and JsonFormatter().format(finished[0]).count('"state": "delivered"') == 1
