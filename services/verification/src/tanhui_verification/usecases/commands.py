"""What a caller asks for, validated before any use case runs: the request bodies of the API.

Every figure is bounded here, so a well-formed value that no rule could accept (a date that would
overflow, a tonnage of 1e300) is a 422 naming its field, never a 500 further down. Text fields
refuse what PostgreSQL cannot store (ApiModel).
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from tanhui_shared.web.models import ApiModel

from ..domain.losses import LossCause
from ..domain.rules import (EARLIEST_CREDITING_START, LATEST_CREDITING_START, MAX_AREA_HA,
                            MAX_TCO2E, TCO2E_PLACES, FilingKind, Vegetation)

AreaHa = Annotated[Decimal, Field(gt=0, le=MAX_AREA_HA, max_digits=10, decimal_places=4,
                                  description="hectares, > 0 and <= 100,000, 4 decimals at most")]
Tco2e = Annotated[Decimal, Field(ge=0, le=MAX_TCO2E, max_digits=12, decimal_places=TCO2E_PLACES,
                                 description="tonnes CO2e, 0 .. 10,000,000, 4 decimals at most")]
BufferPct = Annotated[Decimal, Field(max_digits=5, decimal_places=2,
                                     description="non-permanence buffer, 10-30 %, 2 decimals")]
CreditingStart = Annotated[date, Field(
    ge=EARLIEST_CREDITING_START, le=LATEST_CREDITING_START,
    description="1990-01-01 .. 2100-12-31: the Kyoto base year to a century ahead")]
# a verified net: positive for removals, negative for a reversal (rules.check_verified_quantity)
NetTco2e = Annotated[Decimal, Field(ge=-MAX_TCO2E, le=MAX_TCO2E, max_digits=12,
                                    decimal_places=TCO2E_PLACES,
                                    description="tonnes CO2e, -10,000,000 .. 10,000,000")]
PositiveTco2e = Annotated[Decimal, Field(gt=0, le=MAX_TCO2E, max_digits=12,
                                         decimal_places=TCO2E_PLACES,
                                         description="tonnes CO2e, > 0 .. 10,000,000")]
ParcelM2 = Annotated[Decimal, Field(gt=0, le=MAX_AREA_HA * 10000, max_digits=14,
                                    decimal_places=2, description="square metres")]
Text = Annotated[str, Field(min_length=1, max_length=200)]
Comments = Annotated[str, Field(max_length=4000)]


class Body(ApiModel):
    model_config = ConfigDict(extra="forbid")


class DocumentIn(Body):
    name: Text
    sha256: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$", description="64 hex characters")]


class ProjectFiling(Body):
    name: Text
    kind: FilingKind
    vegetation: Vegetation
    county: Text
    area_ha: AreaHa
    forest_rights_holder: Text
    forest_rights_certificate: Text
    crediting_start: CreditingStart
    crediting_years: Annotated[int, Field(strict=True, ge=1, le=100)]
    description: Annotated[str, Field(max_length=20_000)] = ""
    documents: Annotated[list[DocumentIn], Field(max_length=100)] = []
    # land eligibility (CCER-14-001-V01's applicability conditions; domain/rules.py)
    non_forest_since: Annotated[date, Field(description="the land is non-forest since this day")]
    smallest_parcel_m2: ParcelM2
    land_is_wetland: Annotated[bool, Field(strict=True)]
    burning_site_preparation: Annotated[bool, Field(strict=True)]


class ProjectEdit(Body):
    """A developer's changes to a draft or to a filing whose changes were requested: the fields
    of ProjectFiling, each optional (absent: unchanged). The merged filing is checked again as a
    whole, by the same rules as a new one. Documents given are added to those on record (a
    document once attached stays: the reviewer saw it)."""

    name: Text | None = None
    kind: FilingKind | None = None
    vegetation: Vegetation | None = None
    county: Text | None = None
    area_ha: AreaHa | None = None
    forest_rights_holder: Text | None = None
    forest_rights_certificate: Text | None = None
    crediting_start: CreditingStart | None = None
    crediting_years: Annotated[int, Field(strict=True, ge=1, le=100)] | None = None
    description: Annotated[str, Field(max_length=20_000)] | None = None
    documents: Annotated[list[DocumentIn], Field(max_length=100)] | None = None
    non_forest_since: date | None = None
    smallest_parcel_m2: ParcelM2 | None = None
    land_is_wetland: Annotated[bool, Field(strict=True)] | None = None
    burning_site_preparation: Annotated[bool, Field(strict=True)] | None = None
    comments: Comments = ""  # what changed and why, for the reviewer (on the timeline)


class WithdrawalIn(Body):
    comments: Comments = ""


class ReviewIn(Body):
    decision: Literal["approve", "reject", "request_changes"]
    comments: Comments = ""
    buffer_pct: BufferPct | None = None


class MonitoringFiling(Body):
    period_start: date
    period_end: date
    project_sink_tco2e: Tco2e
    baseline_sink_tco2e: Tco2e
    leakage_tco2e: Tco2e
    documents: Annotated[list[DocumentIn], Field(max_length=100)] = []


class VerificationIn(Body):
    decision: Literal["verified", "rejected"]
    verified_tco2e: NetTco2e | None = None  # negative for a reversal
    comments: Comments = ""


class LossFiling(Body):
    """A loss event the developer reports: what happened, when, where and how much."""

    cause: LossCause
    occurred_on: date
    area_ha: AreaHa
    estimated_tco2e: PositiveTco2e
    description: Annotated[str, Field(max_length=20_000)] = ""


class LossDecisionIn(Body):
    decision: Literal["confirmed", "rejected"]
    verified_tco2e: PositiveTco2e | None = None  # confirmed: the loss as verified
    comments: Comments = ""
