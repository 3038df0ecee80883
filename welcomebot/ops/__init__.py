"""Operations: Prometheus metrics, readiness, and the /healthz /readyz /metrics server."""
