"""Operations: Prometheus metrics, readiness, the /healthz /readyz /metrics server and ``welcomebot doctor``."""

from welcomebot.ops.doctor import Finding, card_findings, check_all
from welcomebot.ops.health import ShardHealth, readiness
from welcomebot.ops.metrics import CONTENT_TYPE, Metrics
from welcomebot.ops.server import serve_ops

__all__ = ["CONTENT_TYPE", "Finding", "Metrics", "ShardHealth", "card_findings", "check_all", "readiness", "serve_ops"]
