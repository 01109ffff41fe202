"""Every event that crosses a service boundary: the CloudEvents envelope and the versioned payloads.

A consumer looks an incoming `type` up in `CONTRACTS`; an unknown type or version is rejected to
the dead-letter topic, never silently dropped.
"""
from .envelope import CloudEvent, UnknownEventType, parse_event
from .events import (
    CONTRACTS,
    AccreditationGranted,
    AccreditationRevoked,
    CreditsIssued,
    CreditsRetired,
    EventContract,
    MonitoringVerified,
    RedemptionCompleted,
    RedemptionRejected,
    RedemptionRequested,
    ReportFiled,
    SigningKeyPublished,
    SigningKeyRetired,
    UserRegistered,
)
from .topics import ACCOUNTS_TOPIC, ALL_TOPICS, CREDITS_TOPIC, VERIFICATION_TOPIC, dlq_topic, qualified

__all__ = [
    "AccreditationGranted",
    "AccreditationRevoked",
    "ACCOUNTS_TOPIC",
    "ALL_TOPICS",
    "CONTRACTS",
    "CREDITS_TOPIC",
    "CloudEvent",
    "CreditsIssued",
    "CreditsRetired",
    "MonitoringVerified",
    "RedemptionCompleted",
    "RedemptionRejected",
    "RedemptionRequested",
    "ReportFiled",
    "EventContract",
    "SigningKeyPublished",
    "SigningKeyRetired",
    "UnknownEventType",
    "UserRegistered",
    "VERIFICATION_TOPIC",
    "dlq_topic",
    "parse_event",
    "qualified",
]
