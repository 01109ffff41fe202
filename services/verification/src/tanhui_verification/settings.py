from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Annotated

from pydantic import Field

from tanhui_shared.settings import ServiceSettings

from .domain.plausibility import (MAX_REMOVAL_TCO2E_PER_HA_YEAR, MIN_MONITORING_PERIOD_DAYS,
                                  PlausibilityBounds)
from .domain.rules import ProjectKind

# t CO2e per hectare per year: 0 or less, or more than 1,000, is a typing error
RemovalCeiling = Annotated[Decimal, Field(gt=0, le=1000, max_digits=8, decimal_places=4)]
_DEFAULT = MAX_REMOVAL_TCO2E_PER_HA_YEAR


class VerificationSettings(ServiceSettings):
    service_name: str = "verification"
    # True: the verifier who approved a project's design may not verify its monitoring reports
    # (ISO 14064-3 style independence). The project's own developer is always refused.
    conflict_of_interest_strict: bool = True
    # Plausibility of monitoring claims: each kind's maximum annual removal per hectare
    # (TANHUI_MAX_REMOVAL_BAMBOO=...) and the shortest monitoring period in days. The defaults
    # and their published sources are in domain/plausibility.py.
    max_removal_afforestation: RemovalCeiling = _DEFAULT[ProjectKind.AFFORESTATION]
    max_removal_forest_management: RemovalCeiling = _DEFAULT[ProjectKind.FOREST_MANAGEMENT]
    max_removal_bamboo: RemovalCeiling = _DEFAULT[ProjectKind.BAMBOO]
    min_monitoring_period_days: Annotated[int, Field(ge=1, le=3660)] = MIN_MONITORING_PERIOD_DAYS

    def plausibility(self) -> PlausibilityBounds:
        return PlausibilityBounds(
            max_removal={ProjectKind.AFFORESTATION: self.max_removal_afforestation,
                         ProjectKind.FOREST_MANAGEMENT: self.max_removal_forest_management,
                         ProjectKind.BAMBOO: self.max_removal_bamboo},
            min_period_days=self.min_monitoring_period_days)


@lru_cache
def get_settings() -> VerificationSettings:
    return VerificationSettings()
