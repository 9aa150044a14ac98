"""Prometheus metrics of one gateway process, in the text exposition format at `/metrics`."""

from __future__ import annotations

import bisect
from collections import Counter

LATENCY_BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000)


class RelayMetrics:
    def __init__(self) -> None:
        self.requests: Counter[tuple[str, str, int]] = Counter()
        self.quota_charged: Counter[str] = Counter()
        self.latency_buckets: Counter[tuple[str, float]] = Counter()
        self.latency_sum: dict[str, float] = {}
        self.latency_count: Counter[str] = Counter()

    def observe(self, endpoint: str, model: str, status: int, quota: int, latency_ms: float) -> None:
        self.requests[(endpoint, model, status)] += 1
        self.quota_charged[model] += quota
        self.latency_sum[endpoint] = self.latency_sum.get(endpoint, 0.0) + latency_ms
        self.latency_count[endpoint] += 1
        index = bisect.bisect_left(LATENCY_BUCKETS_MS, latency_ms)
        if index < len(LATENCY_BUCKETS_MS):
            self.latency_buckets[(endpoint, LATENCY_BUCKETS_MS[index])] += 1  # cumulated when rendered

    def render(self, gauges: dict[str, int]) -> str:
        lines = [
            "# HELP relaygate_requests_total Relayed requests by endpoint, model and status.",
            "# TYPE relaygate_requests_total counter",
        ]
        for (endpoint, model, status), count in sorted(self.requests.items()):
            lines.append(
                f'relaygate_requests_total{{endpoint="{endpoint}",model="{_escape(model)}",status="{status}"}} {count}'
            )
        lines += [
            "# HELP relaygate_quota_charged_total Quota units charged, by model.",
            "# TYPE relaygate_quota_charged_total counter",
        ]
        for model, quota in sorted(self.quota_charged.items()):
            lines.append(f'relaygate_quota_charged_total{{model="{_escape(model)}"}} {quota}')
        lines += [
            "# HELP relaygate_request_duration_ms Time to the end of the answer.",
            "# TYPE relaygate_request_duration_ms histogram",
        ]
        for endpoint in sorted(self.latency_count):
            count = 0
            for bound in LATENCY_BUCKETS_MS:
                count += self.latency_buckets[(endpoint, bound)]
                lines.append(f'relaygate_request_duration_ms_bucket{{endpoint="{endpoint}",le="{bound}"}} {count}')
            lines.append(
                f'relaygate_request_duration_ms_bucket{{endpoint="{endpoint}",le="+Inf"}} {self.latency_count[endpoint]}'
            )
            lines.append(f'relaygate_request_duration_ms_sum{{endpoint="{endpoint}"}} {self.latency_sum[endpoint]:.3f}')
            lines.append(f'relaygate_request_duration_ms_count{{endpoint="{endpoint}"}} {self.latency_count[endpoint]}')
        for name, value in sorted(gauges.items()):
            lines += [f"# TYPE relaygate_{name} gauge", f"relaygate_{name} {value}"]
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
