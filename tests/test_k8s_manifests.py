"""deploy/k8s renders, is valid for Kubernetes 1.37 and its operators' CRDs, and names only real
things: pods behind every Service and policy, Secrets that exist or an operator writes, entry
points, settings, the Kafka topics and ACLs the code plans. Offline: the schemas are bundled."""
from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tanhui_shared.contracts.topics import topic_plan
from tanhui_shared.messaging.kafka_security import SERVICES, grants
from tanhui_shared.settings import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "tools"))
import k8s_kustomize  # noqa: E402
import k8s_manifests  # noqa: E402

from test_compose import _runs_as_main  # noqa: E402 - the same entry-point check as compose's

K8S = REPO_ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.37.0"
NAMESPACE = "tanhui"
OVERLAYS = ("base", "overlays/production")
# Secrets the operator creates by hand (deploy/k8s/README.md "Secrets"), and those cert-manager
# issues for the Ingress. The rest come from CloudNativePG and Strimzi (see _generated_secrets).
HAND_MADE = {"tanhui-jwt-signing-key", "tanhui-backup-s3"}
ISSUED = {"gateway-tls"}
# Environment names that are not tanhui settings but are read by what the processes run:
# libpq takes the database user and password from PGUSER/PGPASSWORD, Python skips .pyc files.
NOT_SETTINGS = {"PGUSER": "libpq", "PGPASSWORD": "libpq", "PYTHONDONTWRITEBYTECODE": "CPython"}
# TANHUI_* names the code reads with os.environ rather than a settings class.
READ_DIRECTLY = {"TANHUI_KAFKA_TOPIC_PROFILE": "libs/tanhui-shared/src/tanhui_shared/messaging/kafka.py"}


def render(where: str) -> list[dict]:
    return k8s_kustomize.build(K8S / where)


@pytest.fixture(scope="module", params=OVERLAYS)
def docs(request) -> list[dict]:
    return render(request.param)


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def pod_templates(docs: list[dict]) -> dict[str, dict]:
    """Every pod template of the app: Deployments, StatefulSets, Jobs and CronJobs."""
    found = {}
    for d in docs:
        spec = d.get("spec", {})
        if d["kind"] in ("Deployment", "StatefulSet", "Job"):
            found[f"{d['kind']}/{d['metadata']['name']}"] = spec["template"]
        elif d["kind"] == "CronJob":
            found[f"CronJob/{d['metadata']['name']}"] = spec["jobTemplate"]["spec"]["template"]
    return found


def operator_pods(docs: list[dict]) -> list[dict]:
    """The labels of pods the operators run: CloudNativePG labels an instance `cnpg.io/cluster`
    and a PgBouncer pod `cnpg.io/poolerName`."""
    return ([{"cnpg.io/cluster": n} for n in by_kind(docs, "Cluster")]
            + [{"cnpg.io/poolerName": n} for n in by_kind(docs, "Pooler")])


def matches(selector: dict, pod_labels: dict) -> bool:
    return all(pod_labels.get(k) == v for k, v in selector.items())


# --- generated files and rendering -------------------------------------------------------------

def test_the_committed_base_is_what_the_generator_writes():
    for name, resources in k8s_manifests.files().items():
        assert (K8S / "base" / name).read_text() == k8s_manifests.render(resources), \
            f"deploy/k8s/base/{name} is stale: run `uv run python tools/k8s_manifests.py`"


def test_every_resource_lands_in_the_namespace_with_the_platform_label(docs):
    for d in docs:
        if d["kind"] != "Namespace":
            assert d["metadata"]["namespace"] == NAMESPACE, d["metadata"]["name"]
        assert d["metadata"]["labels"]["app.kubernetes.io/part-of"] == "tanhui"


def test_the_overlay_patches_what_production_needs():
    prod = render("overlays/production")
    assert all(c["spec"]["instances"] == 3 for c in by_kind(prod, "Cluster").values())
    assert all(h["spec"]["minReplicas"] >= 3 for h in by_kind(prod, "HorizontalPodAutoscaler").values())
    images = {c["image"] for t in pod_templates(prod).values() for c in t["spec"]["containers"]}
    assert images == {"registry.example.cn/tanhui/tanhui:1.0.0", "redis:7"}
    # patched, not replaced: the container's probes and the ConfigMap's other keys survive
    assert by_kind(prod, "ConfigMap")["tanhui-env"]["data"]["TANHUI_ENV"] == "production"
    assert by_kind(prod, "Ingress")["gateway"]["spec"]["tls"][0]["hosts"] == ["tanhui.example.cn"]
    assert by_kind(prod, "Ingress")["gateway"]["spec"]["rules"][0]["host"] == "tanhui.example.cn"


# --- schemas -----------------------------------------------------------------------------------

def _closed(schema):
    """Like the API server's strict field validation (kubectl's default): a field the CRD does
    not declare is an error, unless the schema keeps unknown fields."""
    if isinstance(schema, list):
        return [_closed(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {k: (_closed(v) if k != "properties" else {p: _closed(s) for p, s in v.items()})
              for k, v in schema.items()}
    if ("properties" in schema and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")):
        closed["additionalProperties"] = False
    return closed


def crd_schema(doc: dict) -> dict:
    group, version = doc["apiVersion"].split("/")
    bundled = json.loads((K8S / "schemas" / group / f"{doc['kind']}.json").read_text())
    schema = _closed(bundled["versions"][version])
    schema["properties"]["metadata"] = {"type": "object"}  # the API server checks metadata itself
    return schema


def schema_errors(doc: dict) -> list[str]:
    # a custom resource's group has its bundled schemas; any other kind is Kubernetes' own, and
    # kubernetes-validate refuses a kind it has no schema for
    if (K8S / "schemas" / doc["apiVersion"].split("/")[0]).is_dir():
        validator = jsonschema.Draft7Validator(crd_schema(doc))
        return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        return [f"{'.'.join(map(str, error.path))}: {error.message}"]
    return []


def test_every_resource_is_valid_against_its_schema(docs):
    errors = {f"{d['kind']}/{d['metadata']['name']}": schema_errors(d) for d in docs}
    assert {k: v for k, v in errors.items() if v} == {}


def test_a_misspelled_or_mistyped_field_is_caught():
    """The validation above is not vacuous: one wrong key or type under spec fails it."""
    prod = render("overlays/production")
    kafka = by_kind(prod, "Kafka")["tanhui"]
    kafka["spec"]["kafka"]["listners"] = kafka["spec"]["kafka"].pop("listeners")
    assert any("listners" in e for e in schema_errors(kafka))
    deployment = by_kind(prod, "Deployment")["accounts"]
    deployment["spec"]["replicas"] = "three"
    assert schema_errors(deployment)
    cluster = by_kind(prod, "Cluster")["accounts-db"]
    cluster["spec"]["instances"] = "3"
    assert schema_errors(cluster)


# --- cross-references --------------------------------------------------------------------------

def test_every_service_selects_pods_and_every_target_exists(docs):
    pods = [t["metadata"]["labels"] for t in pod_templates(docs).values()]
    for name, service in by_kind(docs, "Service").items():
        assert any(matches(service["spec"]["selector"], p) for p in pods), f"Service {name} selects nothing"
    deployments = by_kind(docs, "Deployment")
    for name, dep in deployments.items():
        assert matches(dep["spec"]["selector"]["matchLabels"], dep["spec"]["template"]["metadata"]["labels"])
    for name, hpa in by_kind(docs, "HorizontalPodAutoscaler").items():
        assert hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
        assert hpa["spec"]["scaleTargetRef"]["name"] in deployments, name
    for name, pdb in by_kind(docs, "PodDisruptionBudget").items():
        assert any(matches(pdb["spec"]["selector"]["matchLabels"], p) for p in pods), name
    services = by_kind(docs, "Service")
    for ingress in by_kind(docs, "Ingress").values():
        backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
        assert backend["name"] == "gateway" and backend["port"]["name"] in {
            p["name"] for p in services["gateway"]["spec"]["ports"]}
    # the gateway is the only thing reachable from outside the cluster
    assert {i["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"]
            for i in by_kind(docs, "Ingress").values()} == {"gateway"}
    assert all(s["spec"].get("type", "ClusterIP") == "ClusterIP" for s in services.values())


def test_consumers_scale_on_lag_up_to_the_partition_count(docs):
    (partitions,) = {t.partitions for t in topic_plan("production")}
    deployments, auths = by_kind(docs, "Deployment"), by_kind(docs, "TriggerAuthentication")
    scaled = by_kind(docs, "ScaledObject")
    assert set(scaled) == {f"{s}-consumer" for s in SERVICES}
    for name, obj in scaled.items():
        service = name.removesuffix("-consumer")
        assert obj["spec"]["scaleTargetRef"]["name"] in deployments
        assert obj["spec"]["maxReplicaCount"] == partitions  # a 13th consumer would sit idle
        trigger = obj["spec"]["triggers"][0]
        assert trigger["type"] == "kafka" and trigger["metadata"]["consumerGroup"] == service
        assert trigger["metadata"]["allowIdleConsumers"] == "false"
        auth = auths[trigger["authenticationRef"]["name"]]
        consumer = deployments[name]["spec"]["template"]["spec"]["containers"][0]
        assert auth["spec"]["env"][0]["containerName"] == consumer["name"]
        username = {e["name"]: e for e in consumer["env"]}[auth["spec"]["env"][0]["name"]]
        assert username["value"] == service  # KEDA reads the lag as the group's own principal


def _generated_secrets(docs: list[dict]) -> set[str]:
    """Secrets the operators write: CloudNativePG `<cluster>-app`, Strimzi a KafkaUser's own name
    and `<kafka>-cluster-ca-cert`."""
    return ({f"{n}-app" for n in by_kind(docs, "Cluster")} | set(by_kind(docs, "KafkaUser"))
            | {f"{n}-cluster-ca-cert" for n in by_kind(docs, "Kafka")})


def _secret_refs(node) -> list[str]:
    """Every Secret name a resource refers to, wherever it does."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("secretKeyRef", "secretRef") and isinstance(value, dict):
                found.append(value["name"])
            elif key == "secret" and isinstance(value, dict) and "secretName" in value:
                found.append(value["secretName"])
            elif key == "secretTargetRef":
                found += [ref["name"] for ref in value]
            elif key in ("accessKeyId", "secretAccessKey"):
                found.append(value["name"])
            elif key == "tls" and isinstance(value, list):
                found += [t["secretName"] for t in value]
            found += _secret_refs(value)
    elif isinstance(node, list):
        for item in node:
            found += _secret_refs(item)
    return found


def test_every_secret_and_configmap_named_exists_or_is_written_by_an_operator(docs):
    known = _generated_secrets(docs) | HAND_MADE | ISSUED
    refs = {name for d in docs for name in _secret_refs(d)}
    assert refs - known == set()
    assert HAND_MADE <= refs  # nothing listed that no one uses
    readme = (K8S / "README.md").read_text()
    assert all(name in readme for name in HAND_MADE)  # the README says how to make each
    assert not by_kind(docs, "Secret")  # no credential is committed
    configmaps = by_kind(docs, "ConfigMap")
    for where, template in pod_templates(docs).items():
        for box in template["spec"]["containers"]:
            for source in box.get("envFrom", []):
                assert source["configMapRef"]["name"] in configmaps, where
            for var in box.get("env", []):
                ref = var.get("valueFrom", {}).get("configMapKeyRef")
                if ref:
                    assert ref["key"] in configmaps[ref["name"]]["data"], (where, ref)


def test_every_network_policy_selects_pods_and_only_the_gateway_is_open_to_the_outside(docs):
    pods = [t["metadata"]["labels"] for t in pod_templates(docs).values()] + operator_pods(docs)
    policies = by_kind(docs, "NetworkPolicy")
    assert policies["default-deny-ingress"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    for name, policy in policies.items():
        selector = policy["spec"]["podSelector"].get("matchLabels", {})
        assert selector == {} or any(matches(selector, p) for p in pods), f"{name} selects no pod"
        for rule in policy["spec"].get("ingress", []):
            for peer in rule["from"]:
                if "podSelector" in peer:
                    assert any(matches(peer["podSelector"]["matchLabels"], p) for p in pods), name
    outside = {name for name, p in policies.items() for rule in p["spec"].get("ingress", [])
               for peer in rule["from"] if "ingress-nginx" in json.dumps(peer)}
    assert outside == {"gateway-from-ingress"}
    api_from = {name: p for name, p in policies.items() if name.endswith("-api-from-gateway")}
    assert len(api_from) == len(SERVICES)
    for policy in api_from.values():
        assert policy["spec"]["ingress"][0]["from"] == [
            {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "gateway",
                                             "app.kubernetes.io/component": "gateway"}}}]
    for service in SERVICES:  # a service's database pooler admits that service's pods only
        pooler = policies[f"{service}-db-pooler-from-{service}"]["spec"]["ingress"][0]["from"]
        assert pooler == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": service}}}]
    kafka = by_kind(docs, "Kafka")["tanhui"]["spec"]["kafka"]["listeners"]
    admitted = [t for t in pod_templates(docs).values()
                if any(matches(peer.get("podSelector", {}).get("matchLabels", {"-": "-"}),
                               t["metadata"]["labels"]) for peer in kafka[0]["networkPolicyPeers"])]
    assert {t["metadata"]["labels"]["app.kubernetes.io/name"] for t in admitted} == set(SERVICES)


# --- Kafka: the plan of the code, nothing else -------------------------------------------------

def test_kafka_topics_are_topic_plan_production(docs):
    topics = {t["spec"]["topicName"]: t["spec"] for t in by_kind(docs, "KafkaTopic").values()}
    assert topics == {t.name: {"topicName": t.name, "partitions": t.partitions,
                               "replicas": t.replication_factor,
                               "config": {"min.insync.replicas": t.min_insync_replicas,
                                          "retention.ms": t.retention_hours * 3_600_000}}
                      for t in topic_plan("production")}
    assert all(t["metadata"]["labels"]["strimzi.io/cluster"] == "tanhui"
               for t in by_kind(docs, "KafkaTopic").values())


def test_kafka_users_hold_exactly_kafka_security_grants(docs):
    held = {(name, acl["operations"][0].upper(), acl["resource"]["type"].upper(), acl["resource"]["name"])
            for name, user in by_kind(docs, "KafkaUser").items()
            for acl in user["spec"]["authorization"]["acls"]
            if len(acl["operations"]) == 1 and acl["resource"]["patternType"] == "literal"
            and acl.get("host", "*") == "*"}
    every = sum(len(u["spec"]["authorization"]["acls"]) for u in by_kind(docs, "KafkaUser").values())
    assert held == {(g.service, g.operation, g.resource, g.name) for g in grants()}
    assert every == len(grants())
    assert all(u["spec"]["authentication"]["type"] == "scram-sha-512"
               for u in by_kind(docs, "KafkaUser").values())


def test_the_kafka_cluster_holds_the_production_profile(docs):
    (plan,) = {(t.replication_factor, t.min_insync_replicas) for t in topic_plan("production")}
    kafka = by_kind(docs, "Kafka")["tanhui"]["spec"]["kafka"]
    assert (kafka["config"]["default.replication.factor"], kafka["config"]["min.insync.replicas"]) == plan
    assert kafka["authorization"]["type"] == "simple"
    assert [(li["tls"], li["authentication"]["type"]) for li in kafka["listeners"]] == [(True, "scram-sha-512")]
    (pool,) = by_kind(docs, "KafkaNodePool").values()
    assert pool["spec"]["replicas"] >= plan[0] and set(pool["spec"]["roles"]) == {"controller", "broker"}


# --- the processes -----------------------------------------------------------------------------

def _app_containers(docs: list[dict]):
    for where, template in pod_templates(docs).items():
        if where != "StatefulSet/redis":
            for box in template["spec"]["containers"]:
                yield where, template, box


def test_every_command_is_a_real_entry_point_and_every_process_is_deployed(docs):
    commands = []
    for where, _, box in _app_containers(docs):
        command = box["command"]
        if command[:2] == ["python", "-m"]:
            assert _runs_as_main(command[2]), f"{where}: {command[2]} is not runnable with -m"
        else:
            assert command[0] == "uvicorn" and "--factory" in command, where
            module, _, factory = command[1].partition(":")
            assert callable(getattr(importlib.import_module(module), factory)), where
        commands.append(" ".join(command))
    for service in SERVICES:  # every process compose runs, once per service
        for entry in (f"tanhui_{service}.app:create_app", f"tanhui_{service}.relay",
                      f"tanhui_{service}.consumer", f"tanhui_{service}.migrate",
                      f"tanhui_shared.messaging.retention {service}"):
            assert sum(entry in c for c in commands) == 1, entry
    assert sum("tanhui_accounts.cli expire-points" in c for c in commands) == 1
    assert sum("-m tanhui_gateway " in c for c in commands) == 1


def test_every_app_container_runs_as_uid_10001_non_root_on_a_read_only_root(docs):
    for where, template, box in _app_containers(docs):
        pod, own = template["spec"]["securityContext"], box["securityContext"]
        assert pod["runAsNonRoot"] and pod["runAsUser"] == 10001, where
        assert own["runAsNonRoot"] and own["runAsUser"] == 10001, where
        assert own["readOnlyRootFilesystem"] and not own["allowPrivilegeEscalation"], where
        assert own["capabilities"]["drop"] == ["ALL"], where


def test_http_processes_have_probes_on_healthz_and_readyz(docs):
    for where, _, box in _app_containers(docs):
        if box.get("ports") and box["ports"][0]["name"] == "http":
            port = box["ports"][0]["containerPort"]
            assert box["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port}, where
            assert box["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port}, where


def test_relays_and_consumers_are_probed_and_every_metrics_port_is_scraped(docs):
    """A worker's metrics port serves /livez (its loop turns) and /readyz (database and Kafka
    answer it): tests/test_worker_metrics.py drives both on real processes."""
    workers = 0
    for where, template, box in _app_containers(docs):
        ports = {p["name"]: p["containerPort"] for p in box.get("ports", [])}
        if box["name"] in ("relay", "consumer"):
            workers += 1
            assert set(ports) == {"metrics"}, where
            assert box["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "metrics"}, where
            assert box["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}, where
        if "metrics" in ports:
            env = _environment(docs, box)
            assert "tanhui_gateway" in " ".join(box["command"]) or (
                env["TANHUI_METRICS_PORT"] == str(ports["metrics"])
                and env["TANHUI_METRICS_HOST"] == "0.0.0.0"), where
            notes = template["metadata"]["annotations"]
            assert notes["prometheus.io/scrape"] == "true", where
            assert notes["prometheus.io/port"] == str(ports["metrics"]), where
    assert workers == 2 * len(SERVICES)
    policies = by_kind(docs, "NetworkPolicy")
    for service in SERVICES:  # the monitoring namespace may reach them
        rule = policies[f"{service}-metrics"]["spec"]["ingress"][0]
        assert rule["ports"] == [{"port": 9100, "protocol": "TCP"}]


def _settings_class(box: dict):
    command = " ".join(box["command"])
    if "tanhui_gateway" in command:
        return importlib.import_module("tanhui_gateway.settings").GatewaySettings
    service = next(s for s in SERVICES if f"tanhui_{s}" in command or f"retention {s}" in command)
    module = importlib.import_module(f"tanhui_{service}.settings")
    return next(getattr(module, n) for n in dir(module) if n.endswith("Settings")
                and getattr(module, n).__module__ == module.__name__)


def _environment(docs: list[dict], box: dict) -> dict[str, str]:
    """The container's environment, with a stand-in for each Secret's and field's value."""
    env = {}
    for source in box.get("envFrom", []):
        env.update(by_kind(docs, "ConfigMap")[source["configMapRef"]["name"]]["data"])
    for var in box.get("env", []):
        ref = var.get("valueFrom", {}).get("configMapKeyRef")
        env[var["name"]] = (by_kind(docs, "ConfigMap")[ref["name"]]["data"][ref["key"]] if ref else
                            var.get("value", f"from-{next(iter(var.get('valueFrom', {})), '?')}"))
    return env


def test_every_variable_is_a_real_setting_and_the_settings_load_in_production(docs, monkeypatch):
    for name, path in READ_DIRECTLY.items():
        assert name in (REPO_ROOT / path).read_text(), f"{path} no longer reads {name}"
    for where, _, box in _app_containers(docs):
        settings = _settings_class(box)
        fields = {f"TANHUI_{f.upper()}" for f in settings.model_fields}
        env = _environment(docs, box)
        unknown = {n for n in env if n not in fields and n not in NOT_SETTINGS and n not in READ_DIRECTLY}
        assert unknown == set(), f"{where} sets {unknown}, which {settings.__name__} does not read"
        # the production validators (SASL needs a principal, a database URL, a signing key) pass
        for name in list(__import__("os").environ):
            if name.startswith("TANHUI_"):
                monkeypatch.delenv(name)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        loaded = settings()
        if hasattr(loaded, "kafka_sasl_username"):
            assert loaded.env == "production" and loaded.kafka_security_protocol == "SASL_SSL", where
            assert loaded.kafka_sasl_username in SERVICES and loaded.kafka_sasl_username in where, where
            assert env["TANHUI_KAFKA_SSL_CAFILE"].startswith(
                next(m["mountPath"] for m in box["volumeMounts"] if m["name"] == "kafka-ca"))


def test_services_reach_postgresql_through_pgbouncer_in_transaction_mode(docs):
    poolers = by_kind(docs, "Pooler")
    for where, _, box in _app_containers(docs):
        url = _environment(docs, box).get("TANHUI_DATABASE_URL")
        if url is None:
            continue
        host = url.split("//")[1].split(":")[0]
        if "migrate" in where:  # DDL goes to the primary directly
            assert host.endswith("-db-rw") and host.removesuffix("-rw") in by_kind(docs, "Cluster"), where
        else:
            pooler = poolers[host]["spec"]
            assert pooler["pgbouncer"]["poolMode"] == "transaction", where
            # psycopg prepares a statement after 5 runs (db.py keeps that default): PgBouncer
            # must track protocol-level prepared statements, or they land on the wrong server
            assert int(pooler["pgbouncer"]["parameters"]["max_prepared_statements"]) > 0
        env = {e["name"]: e for e in box["env"]}
        assert env["PGPASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == f"{host.split('-db')[0]}-db-app"
    for cluster in by_kind(docs, "Cluster").values():  # backed up, on a schedule
        assert cluster["spec"]["backup"]["barmanObjectStore"]["destinationPath"].startswith("s3://")
    assert {b["spec"]["cluster"]["name"] for b in by_kind(docs, "ScheduledBackup").values()} \
        == set(by_kind(docs, "Cluster"))
