"""The metrics catalogue, on a registry this object owns (never prometheus_client's global one).

Callers use the small typed methods; pull-based values (mailbox depths, pool queue, cache ratios) are
registered as callbacks read at scrape time, so the actors know nothing of Prometheus.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from welcomebot import __version__
from welcomebot.app.model import Outcome

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class _Callbacks(Collector):
    def __init__(self) -> None:
        self.gauges: dict[str, tuple[str, Callable[[], float]]] = {}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, (doc, read) in self.gauges.items():
            yield GaugeMetricFamily(name, doc, value=read())


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._join_to_post = Histogram(
            "welcomebot_join_to_post_seconds", "From the join dispatch to the posted welcome.",
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self._render = Histogram("welcomebot_render_seconds", "Time to render one card in the pool.",
                                 buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0), registry=r)  # fmt: skip
        self._welcomes = Counter("welcomebot_welcomes", "Joins by outcome.", ["outcome"], registry=r)
        self._rest = Counter("welcomebot_rest_requests", "REST requests by route and status.", ["route", "status"],
                             registry=r)  # fmt: skip
        self._rate_limited = Counter("welcomebot_rest_429", "429 answers by scope.", ["scope"], registry=r)
        self._reconnects = Counter("welcomebot_gateway_reconnects", "Gateway reconnects by shard and reason.",
                                   ["shard", "reason"], registry=r)  # fmt: skip
        self._resumes = Counter("welcomebot_gateway_resumes", "Gateway sessions resumed.", ["shard"], registry=r)
        Gauge("welcomebot_build_info", "The running version.", ["version"], registry=r).labels(__version__).set(1)
        for outcome in Outcome:
            self._welcomes.labels(outcome.value)
        self._callbacks = _Callbacks()
        r.register(self._callbacks)

    # --- the pipeline's Observer ----------------------------------------------------------------------

    def welcomed(self, outcome: Outcome, count: int = 1) -> None:
        self._welcomes.labels(outcome.value).inc(count)

    def join_to_post(self, seconds: float) -> None:
        self._join_to_post.observe(seconds)

    def rendered(self, seconds: float) -> None:
        self._render.observe(seconds)

    # --- other layers ---------------------------------------------------------------------------------

    def rest_request(self, route: str, status: int, count: int = 1) -> None:
        self._rest.labels(route, str(status)).inc(count)

    def rate_limited(self, scope: str, count: int = 1) -> None:
        self._rate_limited.labels(scope).inc(count)

    def reconnect(self, shard: int, reason: str, count: int = 1) -> None:
        self._reconnects.labels(str(shard), reason).inc(count)

    def resumed(self, shard: int, count: int = 1) -> None:
        self._resumes.labels(str(shard)).inc(count)

    def gauge(self, name: str, doc: str, read: Callable[[], float]) -> None:
        """A value read at scrape time (mailbox depth, pool queue, cache hit ratio...)."""
        self._callbacks.gauges[name] = (doc, read)

    def render(self) -> bytes:
        return generate_latest(self.registry)
