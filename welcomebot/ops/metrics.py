"""The metrics catalogue, on a registry this object owns (never prometheus_client's global one).

Callers use the small typed methods; pull-based values (mailbox depths, pool queue, cache ratios) are
registered as callbacks read at scrape time, so the actors know nothing of Prometheus.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from welcomebot import __version__
from welcomebot.app import Outcome

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class _Callbacks(Collector):
    def __init__(self) -> None:
        self.gauges: dict[str, tuple[str, Callable[[], float]]] = {}
        self.counters: dict[str, tuple[str, list[str], Callable[[], Mapping[tuple[str, ...], float]]]] = {}

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        for name, (doc, read) in self.gauges.items():
            yield GaugeMetricFamily(name, doc, value=read())
        for name, (doc, labels, read_counts) in self.counters.items():
            family = CounterMetricFamily(name, doc, labels=labels)
            for values, count in read_counts().items():
                family.add_metric(list(values), count)
            yield family


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

    # --- pulled at scrape time -------------------------------------------------------------------------

    def counter(self, name: str, doc: str, labels: list[str],
                read: Callable[[], Mapping[tuple[str, ...], float]]) -> None:  # fmt: skip
        """A counter family whose samples the owning layer keeps (REST requests, 429s, reconnects)."""
        self._callbacks.counters[name] = (doc, labels, read)

    def gauge(self, name: str, doc: str, read: Callable[[], float]) -> None:
        """A value read at scrape time (mailbox depth, pool queue, cache hit ratio...)."""
        self._callbacks.gauges[name] = (doc, read)

    def render(self) -> bytes:
        return generate_latest(self.registry)
