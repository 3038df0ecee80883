"""deploy/kubernetes/: the manifests parse, and their probes, port, settings and labels match what the code does
(#25.4). No Kubernetes schema validator is a dependency here; these are the checks that catch drift."""

import argparse
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
import yaml

from welcomebot.cli import run_cmd
from welcomebot.ops.metrics import Metrics
from welcomebot.ops.server import serve_ops
from welcomebot.settings import ENV_VARS, load_settings

ROOT = Path(__file__).resolve().parents[1]
KUBE = ROOT / "deploy" / "kubernetes"
#: Read by `welcomebot run` itself (run_cmd), not by Settings.
RUN_ENV = {"WELCOMEBOT_SHARDS"}


def manifests() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(KUBE.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            found[doc["kind"]] = doc
    return found


def container() -> dict[str, Any]:
    spec = manifests()["Deployment"]["spec"]["template"]["spec"]
    (bot,) = spec["containers"]
    return bot  # type: ignore[no-any-return]


def env() -> dict[str, str]:
    docs = manifests()
    return {**docs["ConfigMap"]["data"], **docs["Secret"]["stringData"]}


def test_every_manifest_is_listed_in_the_kustomization():
    listed = set(manifests()["Kustomization"]["resources"])
    assert listed == {p.name for p in KUBE.glob("*.yaml")} - {"kustomization.yaml"}


def test_the_settings_are_ones_the_bot_reads_and_parse():
    known = {v.name for v in ENV_VARS} | RUN_ENV
    assert set(env()) <= known, f"unknown settings: {set(env()) - known}"
    settings = load_settings(env())
    assert str(settings.http_addr).endswith(":8080")
    assert env()["WELCOMEBOT_SHARDS"] == "auto", "replicas share the shards"
    assert env()["WELCOMEBOT_DATABASE_URL"].startswith("postgresql://"), "auto shares shards only on PostgreSQL"
    for ref in container()["envFrom"]:
        kind = "ConfigMap" if "configMapRef" in ref else "Secret"
        name = (ref.get("configMapRef") or ref.get("secretRef"))["name"]
        assert manifests()[kind]["metadata"]["name"] == name


def test_the_args_are_ones_welcomebot_run_takes_and_the_grace_period_outlasts_the_drain():
    parser = argparse.ArgumentParser()
    run_cmd.register(parser.add_subparsers())
    args = parser.parse_args(container()["args"])
    grace = manifests()["Deployment"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert args.drain_timeout + 10 <= grace, "SIGKILL only after the drain and the lease release"


def test_the_port_service_and_selectors_line_up():
    docs = manifests()
    port = int(load_settings(env()).http_addr.port)
    (declared,) = container()["ports"]
    assert declared["containerPort"] == port
    (service_port,) = docs["Service"]["spec"]["ports"]
    assert service_port["targetPort"] == declared["name"]
    labels = docs["Deployment"]["spec"]["template"]["metadata"]["labels"]
    for selector in (docs["Deployment"]["spec"]["selector"]["matchLabels"], docs["Service"]["spec"]["selector"],
                     docs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"]):  # fmt: skip
        assert selector.items() <= labels.items()
    assert container()["resources"]["requests"]["memory"]


@pytest.mark.parametrize(("probe", "answers"), [("livenessProbe", {200}), ("readinessProbe", {503})])
async def test_the_probes_ask_paths_the_ops_server_answers(probe, answers):
    """A starting process: /healthz 200, /readyz 503 (not ready yet); an unknown path would be 404."""
    check = container()[probe]["httpGet"]
    assert check["port"] == container()["ports"][0]["name"]

    async def not_ready() -> tuple[bool, list[str]]:
        return False, ["starting"]

    async with trio.open_nursery() as nursery:
        port = await nursery.start(serve_ops, "127.0.0.1", 0, Metrics(), not_ready)
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{port}{check['path']}")
        nursery.cancel_scope.cancel()
    assert response.status_code in answers
