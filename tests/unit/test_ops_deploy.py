"""deploy/ and docker-compose.yml checked on paper (no Docker engine or cluster here):
they parse, and their services, commands, env vars, ports and paths agree with the code's
CLI parser and Settings. Prometheus files are checked with promtool."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path

import yaml

from tests.integration.prometheus_server import binary
from wiredesk.app.cli import build_parser
from wiredesk.app.services import SERVICES
from wiredesk.metrics import serve_metrics
from wiredesk.settings import ENV_PREFIX, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
LONG_RUNNING = {"poll", *SERVICES}  # one service per stage, plus the feed poller


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def wiredesk_services(doc: dict) -> dict[str, dict]:
    return {n: s for n, s in doc["services"].items() if s.get("image") == "wiredesk:latest"}


def check_env(env: dict[str, str]) -> Settings:
    """Every WIREDESK_* variable is a real setting and the values validate."""
    values = {}
    for name, value in env.items():
        assert name.startswith(ENV_PREFIX), name
        field = name.removeprefix(ENV_PREFIX).lower()
        assert field in Settings.model_fields, f"{name} is not a setting"
        values[field] = value
    return load_settings(**values)


def test_compose_services_commands_and_env_agree_with_the_code():
    doc = compose()
    services = wiredesk_services(doc)
    parser = build_parser()
    commands = {name: s["command"] for name, s in services.items()}
    assert {c[0] for c in commands.values()} >= LONG_RUNNING | {"db", "topics"}
    long_running = {n for n, c in commands.items() if c[0] in LONG_RUNNING}
    assert {commands[n][0] for n in long_running} == LONG_RUNNING
    for name, command in commands.items():
        args = parser.parse_args(command)  # exits (fails the test) on an unknown command
        assert callable(args.handler), name
        settings = check_env(services[name]["environment"])
        assert settings.bus == "kafka"
        assert settings.database_url.startswith("postgresql+psycopg://")
        servers = [s.split(":") for s in settings.kafka_bootstrap.split(",")]
        assert all(host in doc["services"] and port == "9092" for host, port in servers)
        assert "@postgres:5432/" in settings.database_url
    # Kafka: 3 KRaft nodes, broker and controller in one process each, no ZooKeeper; every
    # broker is in the bootstrap list and the controller quorum, with its own node id
    brokers = sorted(n for n in doc["services"] if n.startswith("kafka"))
    assert brokers == ["kafka-1", "kafka-2", "kafka-3"]
    bootstrap = check_env(services["enrich"]["environment"]).kafka_bootstrap
    assert sorted(s.split(":")[0] for s in bootstrap.split(",")) == brokers
    envs = [doc["services"][b]["environment"] for b in brokers]
    assert sorted(e["KAFKA_NODE_ID"] for e in envs) == [1, 2, 3]
    for name, env in zip(brokers, envs, strict=True):
        assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
        assert env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{name}:9092"
        assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == ",".join(
            f"{i}@kafka-{i}:9093" for i in (1, 2, 3)
        )
        assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == 3
    assert len({e["CLUSTER_ID"] for e in envs}) == 1
    assert not any("zookeeper" in n for n in doc["services"])


def test_prometheus_scrapes_every_compose_service_on_its_metrics_port():
    doc = compose()
    services = wiredesk_services(doc)
    expected = set()
    for name, service in services.items():
        if service["command"][0] in LONG_RUNNING:
            port = check_env(service["environment"]).metrics_port
            assert port > 0
            healthcheck = " ".join(service["healthcheck"]["test"])
            assert f":{port}/healthz" in healthcheck
            expected.add(f"{name}:{port}")
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = {
        t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]
    }
    assert targets == expected
    mounts = doc["services"]["prometheus"]["volumes"]
    for rule_file in config["rule_files"]:
        local = f"./deploy/prometheus/{Path(rule_file).name}:{rule_file}:ro"
        assert local in mounts
    assert "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in mounts


def test_grafana_is_provisioned_with_the_datasource_and_every_dashboard():
    doc = compose()
    grafana = doc["services"]["grafana"]["volumes"]
    provisioning = DEPLOY / "grafana" / "provisioning"
    providers = yaml.safe_load((provisioning / "dashboards" / "wiredesk.yml").read_text())
    path = providers["providers"][0]["options"]["path"]
    assert f"./deploy/grafana/dashboards:{path}:ro" in grafana
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana
    source = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    datasource = source["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090" and "prometheus" in doc["services"]
    boards = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
    assert {b.stem for b in boards} >= {
        "wiredesk-overview",
        "wiredesk-feeds",
        "wiredesk-dedup",
        "wiredesk-lag",
    }
    for board in boards:
        data = json.loads(board.read_text())
        assert data["uid"] == board.stem and data["panels"]
        for panel in data["panels"]:
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == datasource["uid"]


def test_dashboard_json_is_what_the_generator_writes():
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen", DEPLOY / "grafana" / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, body in module.render().items():
        written = (DEPLOY / "grafana" / "dashboards" / name).read_text()
        assert written == body, f"{name} is stale: run python deploy/grafana/generate.py"


def test_dockerfile_copies_every_package_and_exposes_the_metrics_port():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"]:
        package = pattern.rstrip("*")
        assert re.search(rf"^COPY {package} \./{package}$", dockerfile, re.M), package
    port = re.search(r"WIREDESK_METRICS_PORT=(\d+)", dockerfile).group(1)
    assert f"EXPOSE {port}" in dockerfile
    assert 'ENTRYPOINT ["wiredesk"]' in dockerfile


def test_kubernetes_manifests_agree_with_the_cli_settings_and_probes():
    docs = [
        d
        for f in sorted((DEPLOY / "k8s").glob("*.yaml"))
        for d in yaml.safe_load_all(f.read_text())
        if d
    ]
    kinds = {(d["kind"], d.get("metadata", {}).get("name")) for d in docs}
    config = {
        d["metadata"]["name"]: d.get("data") or d.get("stringData")
        for d in docs
        if d["kind"] in ("ConfigMap", "Secret")
    }
    parser = build_parser()
    seen = set()
    for doc in docs:
        if doc["kind"] not in ("Deployment", "StatefulSet", "Job"):
            continue
        pod = doc["spec"]["template"]
        for container in pod["spec"]["containers"]:
            env = {}
            for source in container.get("envFrom", []):
                ref = source.get("configMapRef") or source.get("secretRef")
                env.update(config[ref["name"]])
            for e in container.get("env", []):
                # downward API values (the pod name) get a stand-in of the same shape
                env[e["name"]] = e.get("value", "wiredesk-enrich-0")
            settings = check_env(env)
            assert callable(parser.parse_args(container["args"]).handler)
            if doc["kind"] == "StatefulSet":  # a stable pod name as static member id
                ids = [e for e in container["env"] if e["name"] == "WIREDESK_WORKER_ID"]
                assert ids[0]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
                assert settings.group_instance_id() == "wiredesk-enrich-0"
            if doc["kind"] in ("Deployment", "StatefulSet"):
                seen.add(container["args"][0])
                port = container["ports"][0]["containerPort"]
                assert port == settings.metrics_port
                assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(port)
                assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
                assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert seen == LONG_RUNNING
    assert ("Job", "wiredesk-migrate") in kinds and ("Job", "wiredesk-topics") in kinds


def test_the_kubernetes_kafka_cluster_has_three_kraft_nodes_behind_the_bootstrap_address():
    docs = [d for d in yaml.safe_load_all((DEPLOY / "k8s" / "kafka" / "kafka.yaml").read_text())]
    (sts,) = [d for d in docs if d["kind"] == "StatefulSet"]
    assert sts["spec"]["replicas"] == 3
    (container,) = sts["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    voters = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
    assert voters == [f"{i + 1}@kafka-{i}.kafka-nodes.kafka.svc:9093" for i in range(3)]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
    services = {d["metadata"]["name"] for d in docs if d["kind"] == "Service"}
    config = yaml.safe_load((DEPLOY / "k8s" / "config.yaml").read_text().split("---")[0])
    host = config["data"]["WIREDESK_KAFKA_BOOTSTRAP"].split(".")[0]
    assert {host, sts["spec"]["serviceName"]} <= services


def test_health_endpoints_named_in_deploy_files_exist():
    from urllib.request import urlopen

    from wiredesk.metrics import Health

    health = Health("probe_check")
    health.set_ready(True)
    server = serve_metrics("127.0.0.1", 0, health)
    try:
        port = server.server_address[1]
        for path in ("/healthz", "/readyz", "/metrics"):
            assert urlopen(f"http://127.0.0.1:{port}{path}", timeout=5).status == 200
    finally:
        server.shutdown()


def test_promtool_checks_rules_and_config_and_the_alert_unit_tests_pass(tmp_path):
    promtool = binary("promtool")
    alerts = DEPLOY / "prometheus" / "alerts.yml"
    run = subprocess.run([promtool, "check", "rules", str(alerts)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS: 10 rules found" in run.stdout
    config = (DEPLOY / "prometheus" / "prometheus.yml").read_text()
    (tmp_path / "prometheus.yml").write_text(
        config.replace("/etc/prometheus/alerts.yml", str(alerts))
    )
    run = subprocess.run(
        [promtool, "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    run = subprocess.run(
        [promtool, "test", "rules", str(DEPLOY / "prometheus" / "tests" / "alerts_test.yml")],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0 and "SUCCESS" in run.stdout, run.stdout + run.stderr


def test_containers_ship_a_default_feeds_file_that_the_poller_reads():
    from ingest.registry import read_feeds_file

    skipped: list[tuple[str, str]] = []
    default = read_feeds_file(DEPLOY / "feeds.txt", skipped)
    assert len(default) >= 3 and not skipped
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    poll = compose["services"]["poll"]
    assert poll["volumes"] == ["${WIREDESK_COMPOSE_FEEDS:-./deploy/feeds.txt}:/config/feeds.txt:ro"]
    assert poll["environment"]["WIREDESK_FEEDS_FILE"] == "/config/feeds.txt"
    configmap = next(
        d
        for d in yaml.safe_load_all((DEPLOY / "k8s" / "config.yaml").read_text())
        if d["metadata"]["name"] == "wiredesk-feeds"
    )
    listed = [
        line.strip()
        for line in configmap["data"]["feeds.txt"].splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert listed == [f.url for f in default]
