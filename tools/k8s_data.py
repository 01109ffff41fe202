"""The data tier of deploy/k8s (written by tools/k8s_manifests.py): Strimzi's Kafka, node pool,
KafkaTopic and KafkaUser resources, CloudNativePG's clusters, poolers and backups, and the
network policies of the whole namespace."""
from __future__ import annotations

from tanhui_shared.contracts.topics import topic_plan
from tanhui_shared.messaging.kafka_security import SERVICES, grants

from k8s_manifests import (GATEWAY_METRICS_PORT, GATEWAY_PORT, METRICS_PORT, KAFKA, KAFKA_CLIENT, KAFKA_TLS_PORT,
                           NAME, PORTS, labels, meta)

STRIMZI = "kafka.strimzi.io/v1"
CNPG = "postgresql.cnpg.io/v1"
OF_KAFKA = {"strimzi.io/cluster": KAFKA}
# The namespaces of the components that must reach pods here (deploy/k8s/README.md).
OPERATOR_NS = {"cnpg": "cnpg-system", "keda": "keda", "ingress": "ingress-nginx",
               "monitoring": "monitoring"}


def kafka_cluster() -> list[dict]:
    plan = topic_plan("production")
    rf, isr = plan[0].replication_factor, plan[0].min_insync_replicas
    pool = {"apiVersion": STRIMZI, "kind": "KafkaNodePool", "metadata": meta("dual-role", labels=OF_KAFKA),
            "spec": {"replicas": rf, "roles": ["controller", "broker"],
                     "storage": {"type": "jbod", "volumes": [{"id": 0, "type": "persistent-claim",
                                                              "size": "100Gi", "deleteClaim": False,
                                                              "kraftMetadata": "shared"}]},
                     "resources": {"requests": {"cpu": "500m", "memory": "2Gi"}, "limits": {"memory": "2Gi"}}}}
    # Only the services' pods and KEDA (lag) reach the listener; Strimzi writes the policy.
    peers = [{"podSelector": {"matchLabels": {KAFKA_CLIENT: "true"}}},
             {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": OPERATOR_NS["keda"]}}}]
    kafka = {"apiVersion": STRIMZI, "kind": "Kafka", "metadata": meta(KAFKA),
             "spec": {"kafka": {
                 "listeners": [{"name": "scram", "port": KAFKA_TLS_PORT, "type": "internal", "tls": True,
                                "authentication": {"type": "scram-sha-512"},
                                "networkPolicyPeers": peers}],
                 "authorization": {"type": "simple"},  # no ACL, no access (kafka_security.py)
                 "config": {"default.replication.factor": rf, "min.insync.replicas": isr,
                            "offsets.topic.replication.factor": rf,
                            "transaction.state.log.replication.factor": rf,
                            "transaction.state.log.min.isr": isr,
                            "auto.create.topics.enable": False}},
                 "entityOperator": {"topicOperator": {}, "userOperator": {}}}}
    return [pool, kafka]


def kafka_topics() -> list[dict]:
    return [{"apiVersion": STRIMZI, "kind": "KafkaTopic", "metadata": meta(t.name.replace(".", "-"), labels=OF_KAFKA),
             "spec": {"topicName": t.name, "partitions": t.partitions, "replicas": t.replication_factor,
                      "config": {"min.insync.replicas": t.min_insync_replicas,
                                 "retention.ms": t.retention_hours * 3_600_000}}}
            for t in topic_plan("production")]


def kafka_users() -> list[dict]:
    users = []
    for service in SERVICES:
        acls = [{"resource": {"type": g.resource.lower(), "name": g.name, "patternType": "literal"},
                 "operations": [g.operation.capitalize()], "host": "*"}
                for g in grants() if g.service == service]
        users.append({"apiVersion": STRIMZI, "kind": "KafkaUser", "metadata": meta(service, labels=OF_KAFKA),
                      "spec": {"authentication": {"type": "scram-sha-512"},
                               "authorization": {"type": "simple", "acls": acls}}})
    return users


def databases() -> list[dict]:
    made = []
    for service in SERVICES:
        cluster = f"{service}-db"
        made.append({"apiVersion": CNPG, "kind": "Cluster", "metadata": meta(cluster, labels=labels(service, "database")),
                     "spec": {"instances": 1, "imageName": "ghcr.io/cloudnative-pg/postgresql:15",
                              "bootstrap": {"initdb": {"database": f"tanhui_{service}", "owner": service}},
                              "storage": {"size": "20Gi"},
                              "postgresql": {"parameters": {"max_connections": "200"}},
                              "monitoring": {"enablePodMonitor": False},
                              "backup": {"retentionPolicy": "30d", "barmanObjectStore": {
                                  "destinationPath": f"s3://tanhui-backups/{cluster}",
                                  "s3Credentials": {
                                      "accessKeyId": {"name": "tanhui-backup-s3", "key": "ACCESS_KEY_ID"},
                                      "secretAccessKey": {"name": "tanhui-backup-s3", "key": "ACCESS_SECRET_KEY"}},
                                  "wal": {"compression": "gzip"}}}}})
        made.append({"apiVersion": CNPG, "kind": "ScheduledBackup", "metadata": meta(cluster, labels=labels(service, "database")),
                     "spec": {"schedule": "0 30 2 * * *", "backupOwnerReference": "self",
                              "cluster": {"name": cluster}, "method": "barmanObjectStore"}})
        # Transaction pooling: psycopg's protocol-level prepared statements work through
        # PgBouncer 1.21+ when max_prepared_statements > 0 (deploy/k8s/README.md "PgBouncer").
        made.append({"apiVersion": CNPG, "kind": "Pooler", "metadata": meta(f"{cluster}-pooler", labels=labels(service, "database")),
                     "spec": {"cluster": {"name": cluster}, "instances": 2, "type": "rw",
                              "pgbouncer": {"poolMode": "transaction", "parameters": {
                                  "max_client_conn": "1000", "default_pool_size": "40",
                                  "max_prepared_statements": "200"}}}})
    return made


def data_resources(part: str) -> list[dict]:
    return kafka_cluster() + kafka_topics() + kafka_users() if part == "kafka" else databases()


def _from_pods(selector: dict) -> dict:
    return {"podSelector": {"matchLabels": selector}}


def _from_ns(namespace: str) -> dict:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}


def _policy(name: str, selected: dict, sources: list[dict], ports: list[int]) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta(name),
            "spec": {"podSelector": {"matchLabels": selected}, "policyTypes": ["Ingress"],
                     "ingress": [{"from": sources, "ports": [{"port": p, "protocol": "TCP"} for p in ports]}]}}


def network_policies() -> list[dict]:
    """Ingress is denied unless a policy below admits it. Kafka's listener is guarded by the
    policy Strimzi writes from `networkPolicyPeers` (kafka_cluster)."""
    gateway = labels("gateway", "gateway")
    made = [{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta("default-deny-ingress"),
             "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}},
            _policy("gateway-from-ingress", gateway, [_from_ns(OPERATOR_NS["ingress"])], [GATEWAY_PORT]),
            _policy("gateway-metrics", gateway, [_from_ns(OPERATOR_NS["monitoring"])], [GATEWAY_METRICS_PORT]),
            _policy("redis-from-gateway", labels("redis", "redis"), [_from_pods(gateway)], [6379])]
    for service in SERVICES:
        cluster = f"{service}-db"
        # every process of the service serves its metrics (and a worker's probes) there
        made.append(_policy(f"{service}-metrics", {NAME: service}, [_from_ns(OPERATOR_NS["monitoring"])],
                            [METRICS_PORT]))
        made.append(_policy(f"{service}-api-from-gateway", labels(service, "api"), [_from_pods(gateway)],
                            [PORTS[service]]))
        made.append(_policy(f"{cluster}-pooler-from-{service}", {"cnpg.io/poolerName": f"{cluster}-pooler"},
                            [_from_pods({NAME: service})], [5432]))
        # PostgreSQL: the pooler, the migration job (direct), the cluster's own replicas, and the
        # operator's status probes (8000) and its management connections
        made.append(_policy(f"{cluster}-clients", {"cnpg.io/cluster": cluster},
                            [_from_pods({"cnpg.io/poolerName": f"{cluster}-pooler"}),
                             _from_pods(labels(service, "migrate")),
                             _from_pods({"cnpg.io/cluster": cluster}),
                             _from_ns(OPERATOR_NS["cnpg"])], [5432, 8000]))
    return made
