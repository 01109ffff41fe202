"""Versioned event payloads. A new version is a new class with a new `TYPE`; old ones stay."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from .topics import ACCOUNTS_TOPIC, CREDITS_TOPIC, VERIFICATION_TOPIC


class EventContract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    TYPE: ClassVar[str]
    TOPIC: ClassVar[str]
    SOURCE: ClassVar[str]

    def aggregate_id(self) -> str:
        """Kafka key and CloudEvents subject: one aggregate's events stay in order."""
        raise NotImplementedError


# --- accounts ---------------------------------------------------------------------------------

class UserRegistered(EventContract):
    TYPE: ClassVar[str] = "cn.tanhui.accounts.user_registered.v1"
    TOPIC: ClassVar[str] = ACCOUNTS_TOPIC
    SOURCE: ClassVar[str] = "/services/accounts"

    user_id: str
    username: str
    role: str
    # person (citizen) or organisation (everyone acting for a company, project or event)
    subject_kind: str

    def aggregate_id(self) -> str:
        return self.user_id


class SigningKeyPublished(EventContract):
    """accounts' public token-signing key, so services can verify tokens without calling it."""

    TYPE: ClassVar[str] = "cn.tanhui.accounts.signing_key_published.v1"
    TOPIC: ClassVar[str] = ACCOUNTS_TOPIC
    SOURCE: ClassVar[str] = "/services/accounts"

    kid: str
    jwk: dict[str, Any]

    def aggregate_id(self) -> str:
        return f"signing-key:{self.kid}"


class SigningKeyRetired(EventContract):
    """accounts no longer signs with `kid`: services stop trusting tokens it signed."""

    TYPE: ClassVar[str] = "cn.tanhui.accounts.signing_key_retired.v1"
    TOPIC: ClassVar[str] = ACCOUNTS_TOPIC
    SOURCE: ClassVar[str] = "/services/accounts"

    kid: str
    retired_at: datetime

    def aggregate_id(self) -> str:
        return f"signing-key:{self.kid}"


class AccreditationGranted(EventContract):
    """An admin accredited a verification body (`verifier`) or licensed a transit operator
    (`transit_operator`): it may create value from `valid_from` until `valid_to`, unless revoked."""

    TYPE: ClassVar[str] = "cn.tanhui.accounts.accreditation_granted.v1"
    TOPIC: ClassVar[str] = ACCOUNTS_TOPIC
    SOURCE: ClassVar[str] = "/services/accounts"

    accreditation_id: str
    user_id: str
    username: str
    role: str  # verifier | transit_operator
    organisation: str
    number: str  # the accreditation (verifier) or licence (transit operator) number
    valid_from: date
    valid_to: date  # inclusive: the last day the grant is valid
    modes: list[str] = []  # a transit operator's licensed travel modes (empty for verifiers)
    granted_at: datetime

    def aggregate_id(self) -> str:
        return f"accreditation:{self.user_id}"


class AccreditationRevoked(EventContract):
    """An admin revoked a grant: from `revoked_at` on, its holder creates no value."""

    TYPE: ClassVar[str] = "cn.tanhui.accounts.accreditation_revoked.v1"
    TOPIC: ClassVar[str] = ACCOUNTS_TOPIC
    SOURCE: ClassVar[str] = "/services/accounts"

    accreditation_id: str
    user_id: str
    role: str
    reason: str
    revoked_at: datetime

    def aggregate_id(self) -> str:
        return f"accreditation:{self.user_id}"


class ReportFiled(EventContract):
    """An enterprise filed (or revised) its carbon report for a period."""

    TYPE: ClassVar[str] = "cn.tanhui.accounts.report_filed.v1"
    TOPIC: ClassVar[str] = ACCOUNTS_TOPIC
    SOURCE: ClassVar[str] = "/services/accounts"

    report_id: str
    enterprise_id: str
    enterprise_name: str
    period: str
    revision: int
    total_tco2e: Decimal
    # users who may act for the enterprise (e.g. retire credits against this report)
    member_user_ids: list[str]

    def aggregate_id(self) -> str:
        return self.enterprise_id


class RedemptionRequested(EventContract):
    """A citizen's points are on hold; credits retires `quantity` credits from the inclusion pool."""

    TYPE: ClassVar[str] = "cn.tanhui.accounts.redemption_requested.v1"
    TOPIC: ClassVar[str] = ACCOUNTS_TOPIC
    SOURCE: ClassVar[str] = "/services/accounts"

    redemption_id: str
    user_id: str
    username: str
    points: int
    quantity: int  # whole credits (tCO2e) the points buy, at accounts' documented rate

    def aggregate_id(self) -> str:
        return self.redemption_id


# --- verification -----------------------------------------------------------------------------

class MonitoringVerified(EventContract):
    """A monitoring report's reductions were verified: credits issues them, once per issuance_id."""

    TYPE: ClassVar[str] = "cn.tanhui.verification.monitoring_verified.v1"
    TOPIC: ClassVar[str] = VERIFICATION_TOPIC
    SOURCE: ClassVar[str] = "/services/verification"

    issuance_id: str
    project_id: str
    project_number: int  # the registry's project number: the "0004" in NC-FS-0004-2025-...
    project_name: str
    project_kind: str
    county: str
    owner_user_id: str  # the project developer, who receives the credits
    owner_username: str
    monitoring_report_id: str
    verification_id: str
    verifier_user_id: str
    period_start: date
    period_end: date
    vintage: int
    verified_tco2e: Decimal
    buffer_pct: Decimal

    def aggregate_id(self) -> str:
        return self.project_id


# --- credits ----------------------------------------------------------------------------------

class CreditsIssued(EventContract):
    TYPE: ClassVar[str] = "cn.tanhui.credits.issued.v1"
    TOPIC: ClassVar[str] = CREDITS_TOPIC
    SOURCE: ClassVar[str] = "/services/credits"

    issuance_id: str
    project_id: str
    monitoring_report_id: str
    vintage: int
    owner_user_id: str
    quantity: int  # to the owner
    buffer_quantity: int  # to the registry's buffer pool
    serial_first: str
    serial_last: str
    issued_at: datetime

    def aggregate_id(self) -> str:
        return self.project_id


class CreditsRetired(EventContract):
    TYPE: ClassVar[str] = "cn.tanhui.credits.retired.v1"
    TOPIC: ClassVar[str] = CREDITS_TOPIC
    SOURCE: ClassVar[str] = "/services/credits"

    retirement_id: str
    certificate_id: str
    retired_by_user_id: str | None  # None when the registry retires from its inclusion pool
    beneficiary: str
    purpose: str
    quantity: int
    serial_ranges: list[str]  # e.g. ["NC-FS-0004-2025-000000001-000000100"]
    report_id: str | None = None  # an enterprise report the retirement neutralises
    event_id: str | None = None  # a large event it offsets
    redemption_id: str | None = None  # a citizen's redemption it settles
    retired_at: datetime

    def aggregate_id(self) -> str:
        return self.retirement_id


class RedemptionCompleted(EventContract):
    TYPE: ClassVar[str] = "cn.tanhui.credits.redemption_completed.v1"
    TOPIC: ClassVar[str] = CREDITS_TOPIC
    SOURCE: ClassVar[str] = "/services/credits"

    redemption_id: str
    user_id: str
    quantity: int
    certificate_id: str

    def aggregate_id(self) -> str:
        return self.redemption_id


class RedemptionRejected(EventContract):
    TYPE: ClassVar[str] = "cn.tanhui.credits.redemption_rejected.v1"
    TOPIC: ClassVar[str] = CREDITS_TOPIC
    SOURCE: ClassVar[str] = "/services/credits"

    redemption_id: str
    user_id: str
    reason: str

    def aggregate_id(self) -> str:
        return self.redemption_id


# --- issue 13: forestry losses and their compensation --------------------------------------------

class LossVerified(EventContract):
    """A loss of a registered project's carbon (fire, pests, logging, other, or a verified
    reversal) was confirmed by an accredited verifier: credits compensates it once per loss_id."""

    TYPE: ClassVar[str] = "cn.tanhui.verification.loss_verified.v1"
    TOPIC: ClassVar[str] = VERIFICATION_TOPIC
    SOURCE: ClassVar[str] = "/services/verification"

    loss_id: str
    project_id: str
    project_number: int
    owner_user_id: str  # the project developer, whose holdings make up a short buffer pool
    cause: str  # fire | pests | logging | other | reversal
    occurred_on: date
    verified_tco2e: Decimal  # the verified loss, > 0
    monitoring_report_id: str | None = None  # a reversal's monitoring report
    verifier_user_id: str
    verified_at: datetime

    def aggregate_id(self) -> str:
        return self.project_id


class BufferCompensated(EventContract):
    """credits' answer to LossVerified: the credits cancelled from the buffer pool and from the
    developer's holdings, and what neither could cover (shortfall), in whole credits."""

    TYPE: ClassVar[str] = "cn.tanhui.credits.buffer_compensated.v1"
    TOPIC: ClassVar[str] = CREDITS_TOPIC
    SOURCE: ClassVar[str] = "/services/credits"

    loss_id: str
    project_id: str
    required: int  # credits the loss calls for (see credits' domain/compensation.py)
    from_pool: int
    from_developer: int
    shortfall: int
    serial_ranges: list[str]
    compensated_at: datetime

    def aggregate_id(self) -> str:
        return self.project_id


CONTRACTS: dict[str, type[EventContract]] = {
    c.TYPE: c
    for c in (
        UserRegistered, SigningKeyPublished, SigningKeyRetired, AccreditationGranted,
        AccreditationRevoked, ReportFiled, RedemptionRequested,
        MonitoringVerified,
        CreditsIssued, CreditsRetired, RedemptionCompleted, RedemptionRejected,
        LossVerified, BufferCompensated,
    )
}


# --- pooled redemptions (issue 13): small units, retired in whole tonnes by the city's pool -----

class RedemptionRequestedV2(EventContract):
    """A citizen's points are on hold for `kg` (whole 10 kg units) of a pooled retirement:
    credits allocates them at once from whole 1 tCO2e credits the inclusion pool retires ahead
    (RedemptionCompletedV2), or rejects the redemption (RedemptionRejected)."""

    TYPE: ClassVar[str] = "cn.tanhui.accounts.redemption_requested.v2"
    TOPIC: ClassVar[str] = ACCOUNTS_TOPIC
    SOURCE: ClassVar[str] = "/services/accounts"

    redemption_id: str
    user_id: str
    username: str
    points: int
    kg: int  # kg CO2e the points buy, at accounts' documented rate

    def aggregate_id(self) -> str:
        return self.redemption_id


class PoolShare(BaseModel):
    """kg of one retired serial (1 tCO2e) that belong to one redemption."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    serial: str
    kg: int


class RedemptionCompletedV2(EventContract):
    """Every kg of the redemption is covered by retired serials: the held points are spent."""

    TYPE: ClassVar[str] = "cn.tanhui.credits.redemption_completed.v2"
    TOPIC: ClassVar[str] = CREDITS_TOPIC
    SOURCE: ClassVar[str] = "/services/credits"

    redemption_id: str
    user_id: str
    kg: int
    certificate_id: str
    shares: list[PoolShare]

    def aggregate_id(self) -> str:
        return self.redemption_id


CONTRACTS.update({c.TYPE: c for c in (RedemptionRequestedV2, RedemptionCompletedV2)})


# --- purchases from listings (issue 14): a buyer takes credits from a listing into its holding -

class CreditsPurchased(EventContract):
    """Credits moved from a listing into the buyer's holding, serials and lineage kept; the
    payment is recorded (amount), not processed."""

    TYPE: ClassVar[str] = "cn.tanhui.credits.purchased.v1"
    TOPIC: ClassVar[str] = CREDITS_TOPIC
    SOURCE: ClassVar[str] = "/services/credits"

    purchase_id: str
    listing_id: str
    buyer_user_id: str
    seller_user_id: str
    quantity: int
    price_per_tonne: str  # decimal text, yuan per tCO2e
    price_total: str  # decimal text, quantity x price_per_tonne
    serial_ranges: list[str]
    purchased_at: datetime

    def aggregate_id(self) -> str:
        return self.listing_id


CONTRACTS.update({CreditsPurchased.TYPE: CreditsPurchased})
