"""The production Kafka principals and what each may do.

One SCRAM principal per service, named like the service. It may WRITE its own topic and its own
dead-letter topic, READ the topics it consumes with its own consumer group, and nothing else:
the broker runs the StandardAuthorizer with `allow.everyone.if.no.acl.found=false`, so whatever
no ACL allows is refused. Only the owner's principal can therefore put an event on its topic,
which is what the consumers' owner check (consumer.py `_check_owner`) relies on.

Run as the super user by the platform's Kafka bootstrap (`python -m tanhui_shared.messaging.kafka`
with `TANHUI_KAFKA_PASSWORD_<SERVICE>` set): docker-compose.yml's `kafka-init` job, and the test
that proves the ACLs on a secured broker from deploy/kafka/.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kafka.admin import (ACL, ACLFilter, ACLOperation, ACLPermissionType, ACLResourcePatternType,
                         ResourcePattern, ResourcePatternFilter, ResourceType, ScramMechanism,
                         UserScramCredentialUpsertion)

from ..contracts.topics import (ACCOUNTS_TOPIC, CONSUMER_GROUPS, CREDITS_TOPIC, VERIFICATION_TOPIC,
                                dlq_topic, qualified)
from .kafka import Kafka, connect_admin

SERVICES = CONSUMER_GROUPS  # a service's principal, consumer group and DLQ share its name
# The topic each service publishes (its contracts' TOPIC) and those it consumes (its
# events/handlers.py TOPICS); tests/test_compose.py checks both tables against the code.
OWN_TOPIC = {"accounts": ACCOUNTS_TOPIC, "verification": VERIFICATION_TOPIC, "credits": CREDITS_TOPIC}
CONSUMES = {"accounts": (CREDITS_TOPIC,), "verification": (ACCOUNTS_TOPIC, CREDITS_TOPIC),
            "credits": (ACCOUNTS_TOPIC, VERIFICATION_TOPIC)}
# Apache Kafka documentation (4.x, §7.4 "Authentication using SASL/SCRAM"): the default and the
# minimum iteration count is 4096; its example credential uses 8192, as here.
SCRAM_ITERATIONS = 8192


@dataclass(frozen=True, order=True)
class Grant:
    """`service`'s principal may `operation` (READ or WRITE) the TOPIC or GROUP `name`."""

    service: str
    operation: str
    resource: str
    name: str


def grants(namespace: str = "") -> list[Grant]:
    """Every ACL of the platform: exactly what each service's processes need."""
    made = []
    for service in SERVICES:
        made.append(Grant(service, "WRITE", "TOPIC", qualified(OWN_TOPIC[service], namespace)))  # relay
        made.append(Grant(service, "WRITE", "TOPIC", qualified(dlq_topic(service), namespace)))  # consumer
        made += [Grant(service, "READ", "TOPIC", qualified(topic, namespace))
                 for topic in CONSUMES[service]]
        made.append(Grant(service, "READ", "GROUP", qualified(service, namespace)))
    return made


def service_passwords(environ: Mapping[str, str]) -> dict[str, str]:
    """The services' passwords from TANHUI_KAFKA_PASSWORD_<SERVICE>: all of them, or none."""
    found = {s: environ.get(f"TANHUI_KAFKA_PASSWORD_{s.upper()}", "") for s in SERVICES}
    given = {s: p for s, p in found.items() if p}
    if given and len(given) != len(SERVICES):
        missing = ", ".join(f"TANHUI_KAFKA_PASSWORD_{s.upper()}" for s in SERVICES if s not in given)
        raise RuntimeError(f"set every service's Kafka password, or none: {missing} missing")
    return given


def _acl(grant: Grant) -> ACL:
    return ACL(principal=f"User:{grant.service}", host="*",
               operation=ACLOperation[grant.operation], permission_type=ACLPermissionType.ALLOW,
               resource_pattern=ResourcePattern(ResourceType[grant.resource], grant.name,
                                                ACLResourcePatternType.LITERAL))


def _as_grant(acl: ACL) -> Grant | None:
    pattern = acl.resource_pattern
    if (acl.permission_type != ACLPermissionType.ALLOW or acl.host != "*"
            or pattern.pattern_type != ACLResourcePatternType.LITERAL):
        return None
    return Grant(acl.principal.removeprefix("User:"), acl.operation.name,
                 pattern.resource_type.name, pattern.resource_name)


def bootstrap_principals(kafka: Kafka, passwords: Mapping[str, str],
                         namespace: str = "") -> dict[str, int]:
    """As the super user: upsert each service's SCRAM-SHA-512 credential, create its ACLs, and
    delete any other ACL its principal holds (so a grant taken out of `grants` is revoked).
    Returns the number of ACLs per principal."""
    wanted = grants(namespace)
    admin = connect_admin(kafka, "tanhui-bootstrap")
    try:
        failed = {user: error for user, error in admin.alter_user_scram_credentials([
            UserScramCredentialUpsertion(service, ScramMechanism.SCRAM_SHA_512, passwords[service],
                                         iterations=SCRAM_ITERATIONS)
            for service in SERVICES]).items() if error}
        if failed:
            raise RuntimeError(f"SCRAM credentials refused: {failed}")
        created = admin.create_acls([_acl(g) for g in wanted])
        if created.get("failed"):
            raise RuntimeError(f"ACLs refused: {created['failed']}")
        stale = []
        for service in SERVICES:
            held, error = admin.describe_acls(ACLFilter(
                principal=f"User:{service}", host=None, operation=ACLOperation.ANY,
                permission_type=ACLPermissionType.ANY,
                resource_pattern=ResourcePatternFilter(ResourceType.ANY, None,
                                                       ACLResourcePatternType.ANY)))
            if error.errno:
                raise RuntimeError(f"could not list {service}'s ACLs: {error}")
            stale += [acl for acl in held if _as_grant(acl) not in wanted]
        if stale:
            admin.delete_acls([ACLFilter(principal=a.principal, host=a.host, operation=a.operation,
                                         permission_type=a.permission_type,
                                         resource_pattern=a.resource_pattern) for a in stale])
    finally:
        admin.close()
    return {service: sum(g.service == service for g in wanted) for service in SERVICES}
