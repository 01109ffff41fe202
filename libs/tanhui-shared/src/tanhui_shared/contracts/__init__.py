"""Every event that crosses a service boundary: the CloudEvents envelope and the versioned payloads.

A consumer looks an incoming `type` up in `CONTRACTS`; an unknown type or version is rejected to
the dead-letter topic, never silently dropped.
"""
from .envelope import CloudEvent, UnknownEventType, parse_event
from .events import (
    CONTRACTS,
    AccreditationGranted,
    AccreditationRevoked,
    BufferCompensated,
    CreditsIssued,
    CreditsRetired,
    EventContract,
    LossVerified,
    MonitoringVerified,
    PoolShare,
    RedemptionCompleted,
    RedemptionCompletedV2,
    RedemptionRejected,
    RedemptionRequested,
    RedemptionRequestedV2,
    ReportFiled,
    SigningKeyPublished,
    SigningKeyRetired,
    UserRegistered,
)
from .topics import ACCOUNTS_TOPIC, ALL_TOPICS, CREDITS_TOPIC, VERIFICATION_TOPIC, dlq_topic, qualified

__all__ = [
    "BufferCompensated",
    "LossVerified",
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
    "PoolShare",
    "RedemptionCompleted",
    "RedemptionCompletedV2",
    "RedemptionRejected",
    "RedemptionRequested",
    "RedemptionRequestedV2",
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
