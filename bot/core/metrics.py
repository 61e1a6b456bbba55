"""Operability: Prometheus metrics (``GET /metrics``) and the provider-call trace.

One registry per running Tolk (tests run many side by side). What is measured:

- ``tolk_tasks{state}`` — unsettled tasks by state, read from the store at scrape time;
  ``tolk_tasks_created_total`` / ``tolk_tasks_finished_total{operation,state}``;
- ``tolk_provider_calls_total{provider,status}`` and ``tolk_provider_call_seconds`` — every
  HTTP call on the shared session, by the provider its host belongs to;
- ``tolk_provider_errors_total{provider,operation,code,kind}`` — what the work engine saw;
- ``tolk_slack_ack_seconds{kind}`` — from a Slack request's arrival to Tolk's answer, by a
  kind from the fixed ``ACK_KINDS`` (requests Slack did not sign: ``kind="rejected"``);
- ``tolk_http_connections`` — connections open to Tolk's server now;
  ``tolk_http_connections_closed_total{reason}`` — cut off by Tolk (``CLOSE_REASONS``);
- ``tolk_delivery_lag_seconds{provider}`` — from "the provider's result is known" to "the
  file or message is in Slack";
- ``tolk_quota_left{service}`` — the last quota reading.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bot.core.logs import current_work

log = logging.getLogger("bot.calls")

SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

#: Every ``kind`` label of ``tolk_slack_ack_seconds``: a label value never comes from what
#: a request says unless it is one of these (anything else signed is "other").
ACK_KINDS = (
    "command",
    "interaction",
    "event_callback",
    "url_verification",
    "app_rate_limited",
    "other",
    "rejected",
)
#: Why Tolk's server cut a connection off (``tolk_http_connections_closed_total``).
CLOSE_REASONS = ("header_timeout", "body_timeout", "made_room", "over_cap")


class Metrics:
    def __init__(self, provider_hosts: Mapping[str, str]) -> None:
        self.registry = CollectorRegistry()
        self.provider_hosts = dict(provider_hosts)  # "host:port" → provider name
        self._snapshots: dict[str, tuple[str, Callable[[], dict[str, float]]]] = {}
        self.task_counts: dict[str, float] = {}  # unsettled tasks by state, read per scrape
        self.refresh: Callable[[], Awaitable[None]] | None = None
        r = self.registry
        self.tasks_created = Counter(
            "tolk_tasks_created", "Tasks recorded", ["operation"], registry=r
        )
        self.tasks_finished = Counter(
            "tolk_tasks_finished",
            "Tasks settled, by final state",
            ["operation", "state"],
            registry=r,
        )
        self.provider_calls = Counter(
            "tolk_provider_calls", "HTTP calls to providers", ["provider", "status"], registry=r
        )
        self.provider_seconds = Histogram(
            "tolk_provider_call_seconds",
            "Provider call latency",
            ["provider"],
            buckets=SECONDS,
            registry=r,
        )
        self.provider_errors = Counter(
            "tolk_provider_errors",
            "Provider errors seen by tasks",
            ["provider", "operation", "code", "kind"],
            registry=r,
        )
        self.ack_seconds = Histogram(
            "tolk_slack_ack_seconds",
            "Slack request to Tolk's answer",
            ["kind"],
            buckets=SECONDS,
            registry=r,
        )
        self.http_connections = Gauge(
            "tolk_http_connections", "Connections open to Tolk's server", registry=r
        )
        self.http_closed = Counter(
            "tolk_http_connections_closed",
            "Connections Tolk's server cut off",
            ["reason"],
            registry=r,
        )
        self.delivery_lag = Histogram(
            "tolk_delivery_lag_seconds",
            "Result known to result in Slack",
            ["provider"],
            buckets=SECONDS,
            registry=r,
        )
        r.register(_Snapshots(self._snapshots))

    def ack(self, kind: str, seconds: float) -> None:
        """One answer to Slack, under ``kind`` if it is one of ``ACK_KINDS``, else "other"."""
        self.ack_seconds.labels(kind if kind in ACK_KINDS else "other").observe(seconds)

    def closed(self, reason: str) -> None:
        self.http_closed.labels(reason if reason in CLOSE_REASONS else "other").inc()

    def gauge(self, name: str, label: str, read: Callable[[], dict[str, float]]) -> None:
        """A gauge read at scrape time (``read`` returns ``label`` value → number)."""
        self._snapshots[name] = (label, read)

    def provider_of(self, url: Any) -> str:
        netloc = urlsplit(str(url)).netloc.lower()
        if netloc in self.provider_hosts:
            return self.provider_hosts[netloc]
        host = netloc.split(":")[0]
        for known, provider in self.provider_hosts.items():
            if known.startswith("*.") and host.endswith(known[1:]):
                return provider
        return "other"

    def trace_config(self) -> aiohttp.TraceConfig:
        """Counts and times every call on the shared session, and logs it with the task
        it was made for (``bot.core.logs.current_work``)."""
        trace = aiohttp.TraceConfig()

        async def start(_: Any, ctx: SimpleNamespace, params: Any) -> None:
            ctx.started = time.perf_counter()

        async def end(_: Any, ctx: SimpleNamespace, params: Any) -> None:
            self._observe(ctx, params.url, params.method, str(params.response.status))

        async def failed(_: Any, ctx: SimpleNamespace, params: Any) -> None:
            self._observe(ctx, params.url, params.method, type(params.exception).__name__)

        trace.on_request_start.append(start)
        trace.on_request_end.append(end)
        trace.on_request_exception.append(failed)
        return trace

    def _observe(self, ctx: SimpleNamespace, url: Any, method: str, status: str) -> None:
        provider = self.provider_of(url)
        if provider == "slack":
            return  # Slack calls are Slack's business; slack_sdk retries them
        seconds = time.perf_counter() - getattr(ctx, "started", time.perf_counter())
        self.provider_calls.labels(provider, status).inc()
        self.provider_seconds.labels(provider).observe(seconds)
        if not log.isEnabledFor(logging.DEBUG):
            return
        work = current_work.get()
        log.debug(
            "%s %s %s → %s in %.0f ms",
            provider,
            method,
            urlsplit(str(url)).path,
            status,
            seconds * 1000,
            extra={**work, "provider": provider, "latency_ms": round(seconds * 1000, 1)},
        )

    async def render(self, _: web.Request) -> web.Response:
        if self.refresh is not None:
            try:
                await self.refresh()
            except Exception:  # the rest of the page is still worth having
                log.exception("could not refresh the task counts")
        return web.Response(
            body=generate_latest(self.registry),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
        )


class _Snapshots(Collector):
    def __init__(self, reads: dict[str, tuple[str, Callable[[], dict[str, float]]]]) -> None:
        self._reads = reads

    def collect(self) -> Any:
        for name, (label, read) in self._reads.items():
            family = GaugeMetricFamily(name, f"{name} by {label}", labels=[label])
            try:
                values = read()
            except Exception:  # a scrape must never fail on one reading
                log.exception("metric %s could not be read", name)
                continue
            for value_label, value in sorted(values.items()):
                family.add_metric([value_label], value)
            yield family
