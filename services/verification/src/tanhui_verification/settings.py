from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Annotated

from pydantic import Field

from tanhui_shared.settings import ServiceSettings

from .domain.plausibility import (MAX_REMOVAL_TCO2E_PER_HA_YEAR, MIN_MONITORING_PERIOD_DAYS,
                                  PlausibilityBounds)
from .domain.rules import Vegetation

# t CO2e per hectare per year: 0 or less, or more than 1,000, is a typing error
RemovalCeiling = Annotated[Decimal, Field(gt=0, le=1000, max_digits=8, decimal_places=4)]
_DEFAULT = MAX_REMOVAL_TCO2E_PER_HA_YEAR


class VerificationSettings(ServiceSettings):
    service_name: str = "verification"
    # True: the verifier who approved a project's design may not verify its monitoring reports
    # (ISO 14064-3 style independence). The project's own developer is always refused.
    conflict_of_interest_strict: bool = True
    # Plausibility of monitoring claims: each vegetation type's maximum annual removal per
    # hectare (TANHUI_MAX_REMOVAL_BAMBOO=...) and the shortest monitoring period in days. The
    # defaults and their published sources (or stated assumptions) are in domain/plausibility.py.
    max_removal_tree: RemovalCeiling = _DEFAULT[Vegetation.TREE]
    max_removal_bamboo: RemovalCeiling = _DEFAULT[Vegetation.BAMBOO]
    max_removal_shrub: RemovalCeiling = _DEFAULT[Vegetation.SHRUB]
    min_monitoring_period_days: Annotated[int, Field(ge=1, le=3660)] = MIN_MONITORING_PERIOD_DAYS

    def plausibility(self) -> PlausibilityBounds:
        return PlausibilityBounds(
            max_removal={Vegetation.TREE: self.max_removal_tree,
                         Vegetation.BAMBOO: self.max_removal_bamboo,
                         Vegetation.SHRUB: self.max_removal_shrub},
            min_period_days=self.min_monitoring_period_days)


@lru_cache
def get_settings() -> VerificationSettings:
    return VerificationSettings()
