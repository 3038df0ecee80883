"""Readiness math, the ops server over a real socket, and the metrics a running bot exposes."""

import httpx
import trio
from prometheus_client.parser import text_string_to_metric_families

from welcomebot.app.model import Outcome
from welcomebot.ops.health import ShardHealth, readiness
from welcomebot.ops.metrics import Metrics
from welcomebot.ops.server import serve_ops


def test_readiness_reasons():
    up = ShardHealth(0, True, 100.0, 40.0)
    assert readiness([up], None, False, 150.0) == (True, [])
    ok, reasons = readiness([up, ShardHealth(1, False, None, None)], "connection refused", True, 150.0)
    assert not ok
    assert reasons == ["shutting down", "the database is unreachable: connection refused",
                       "shard 1 is not connected to the gateway"]  # fmt: skip
    assert readiness([up], None, False, 200.0)[1] == ["shard 0 has had no heartbeat ACK for 100 s"]
    assert readiness([], None, False, 0.0)[1] == ["no gateway shard started yet"]


async def test_server_answers_health_ready_and_metrics():
    metrics = Metrics()
    metrics.welcomed(Outcome.POSTED, 3)
    metrics.join_to_post(0.08)
    metrics.gauge("welcomebot_guild_actors", "Guild actors alive.", lambda: 7)
    metrics.counter("welcomebot_rest_429", "429 answers by scope.", ["scope"], lambda: {("shared",): 2})
    state = {"ready": False}

    async def ready() -> tuple[bool, list[str]]:
        await trio.lowlevel.checkpoint()
        return (True, []) if state["ready"] else (False, ["shard 0 is not connected to the gateway"])

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(serve_ops, "127.0.0.1", 0, metrics, ready)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                assert (await http.get("/healthz")).status_code == 200
                r = await http.get("/readyz")
                assert r.status_code == 503
                assert r.json()["reasons"] == ["shard 0 is not connected to the gateway"]
                state["ready"] = True
                assert (await http.get("/readyz")).status_code == 200
                r = await http.get("/metrics")
                assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
                families = {f.name: f for f in text_string_to_metric_families(r.text)}
                assert (await http.post("/metrics")).status_code == 405
                assert (await http.get("/nope")).status_code == 404
            nursery.cancel_scope.cancel()
    for name in ("welcomebot_join_to_post_seconds", "welcomebot_render_seconds", "welcomebot_welcomes",
                 "welcomebot_rest_429", "welcomebot_build_info", "welcomebot_guild_actors"):  # fmt: skip
        assert name in families, name
    posted = [s for s in families["welcomebot_welcomes"].samples if s.labels.get("outcome") == "posted"]
    assert posted[0].value == 3
    assert families["welcomebot_guild_actors"].samples[0].value == 7
    assert families["welcomebot_rest_429"].samples[0].labels == {"scope": "shared"}
