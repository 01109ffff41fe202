"""Plausibility of monitoring claims (pure: no I/O).

A monitoring report's claimed net removal (project sink - baseline sink - leakage), and the
quantity a verifier certifies, cannot exceed

    area_ha x period length in years x the vegetation's maximum annual removal per hectare,

and a monitoring period shorter than a minimum is refused. The bounds are ceilings, not
estimates: a genuine report stays far below them, an invented one (4,500 t from one hectare of
bamboo in two days, or 10,000,000 t from one hectare) does not. Every value below is a default
of the service's settings (`TANHUI_MAX_REMOVAL_*`, `TANHUI_MIN_MONITORING_PERIOD_DAYS`).

How a removal rate follows from a growth rate (IPCC 2006 Guidelines for National Greenhouse Gas
Inventories, Vol. 4 AFOLU, Ch. 2 Eq. 2.9-2.10, unchanged in the 2019 Refinement):
    removal (t CO2 / ha / yr) = G_W x (1 + R) x CF x 44/12
with G_W the above-ground biomass growth (t dry matter / ha / yr), R the root-to-shoot ratio,
CF the carbon fraction of dry matter and 44/12 the mass ratio of CO2 to C.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_UP, Decimal

from .rules import Period, RuleViolation, Vegetation

CO2_PER_C = Decimal(44) / Decimal(12)

# CF = 0.47 t C / t d.m.: IPCC 2006 Guidelines Vol. 4 Ch. 4 Table 4.3 (default carbon fraction
# of above-ground forest biomass; kept in the 2019 Refinement).
CARBON_FRACTION = Decimal("0.47")
# R = 0.24: IPCC 2006 Guidelines Vol. 4 Ch. 4 Table 4.4, subtropical humid forest, above-ground
# biomass > 125 t/ha (the larger of its two ratios, 0.20 and 0.24: this is a ceiling).
ROOT_TO_SHOOT = Decimal("0.24")
# G_W ceiling = 25 t d.m. / ha / yr for trees. Platform assumption: IPCC 2006 Vol. 4 Ch. 4
# Table 4.9 (plantations) and 2019 Refinement Table 4.10 give Tier 1 growth rates by region,
# species group and age, as means; a plausibility ceiling must sit above the fastest real
# stands of the city's region (fast-growing Eucalyptus and Acacia plantations of subtropical
# China) rather than at a mean, so one generous value is used for every tree stand.
TREE_GROWTH_CEILING_TDM = Decimal("25")
# Bamboo: moso bamboo (Phyllostachys edulis) stands in subtropical China fix 6.0-7.6 t C / ha /
# yr in biomass (Xu, Ji & Zhuang 2018, "Carbon stock of Moso bamboo forests along a latitude
# gradient in the subtropical region of China", PLoS ONE 13(2): e0193024); the top of that
# range is the ceiling.
BAMBOO_CARBON_CEILING_TC = Decimal("7.6")


def _per_ha_year(tonnes_co2: Decimal) -> Decimal:
    return tonnes_co2.quantize(Decimal("0.01"), rounding=ROUND_UP)


TREE_REMOVAL_CEILING = _per_ha_year(
    TREE_GROWTH_CEILING_TDM * (1 + ROOT_TO_SHOOT) * CARBON_FRACTION * CO2_PER_C)  # 53.43
BAMBOO_REMOVAL_CEILING = _per_ha_year(BAMBOO_CARBON_CEILING_TC * CO2_PER_C)  # 27.87

# Shrubs: platform assumption, no published figure verified. No shrub-specific maximum growth
# rate was found to cite; shrub stands of subtropical China (Ali et al. 2015, Silva Fennica
# 49(4): 1275, describe their biomass, not a growth ceiling) do not outgrow the fastest tree
# plantations, so the tree ceiling bounds them too. Generous, as a ceiling must be.
SHRUB_REMOVAL_CEILING = TREE_REMOVAL_CEILING

# t CO2e / ha / yr, per vegetation type of CCER-14-001-V01. Legacy forest-management projects
# (vegetation `tree`) keep the tree ceiling.
MAX_REMOVAL_TCO2E_PER_HA_YEAR: dict[Vegetation, Decimal] = {
    Vegetation.TREE: TREE_REMOVAL_CEILING,
    Vegetation.BAMBOO: BAMBOO_REMOVAL_CEILING,
    Vegetation.SHRUB: SHRUB_REMOVAL_CEILING,
}

# One full year (365 days, both ends counted). Platform assumption, with these sources:
# CCER-14-001-V01 (2023, the CCER afforestation methodology) leaves the first verification to
# the project owner and spaces later ones years apart; the CDM rules for afforestation it builds
# on require a verification every five years after the first (decision 5/CMP.1, Annex,
# para. 32). Neither sets a shortest period, but the ceilings above are annual rates and
# growth is seasonal: a moso bamboo culm puts on about three quarters of its biomass in its
# first 40 days (Yen 2016, Botanical Studies 57: 10, doi:10.1186/s40529-016-0126-x), so a
# period of days or weeks says nothing about a year's removal. A whole growing season is the
# shortest period whose claim can be checked against an annual ceiling.
MIN_MONITORING_PERIOD_DAYS = 365
DAYS_PER_YEAR = Decimal(365)


@dataclass(frozen=True)
class PlausibilityBounds:
    max_removal: dict[Vegetation, Decimal]  # t CO2e / ha / yr
    min_period_days: int

    @classmethod
    def defaults(cls) -> "PlausibilityBounds":
        return cls(dict(MAX_REMOVAL_TCO2E_PER_HA_YEAR), MIN_MONITORING_PERIOD_DAYS)


def _text(value: Decimal) -> str:
    return f"{value.normalize():f}"  # 1.0000 -> "1", 4500.0000 -> "4500"


def period_days(period: Period) -> int:
    """Days in the period, both ends counted: 2022-01-01..2022-12-31 is 365."""
    return (period.end - period.start).days + 1


def max_removal(bounds: PlausibilityBounds, vegetation: Vegetation | str, area_ha: Decimal,
                period: Period) -> Decimal:
    """The most a period of a project of this vegetation and area can plausibly remove."""
    years = Decimal(period_days(period)) / DAYS_PER_YEAR
    return area_ha * years * bounds.max_removal[Vegetation(vegetation)]


def check_period_length(bounds: PlausibilityBounds, period: Period) -> None:
    days = period_days(period)
    if days < bounds.min_period_days:
        raise RuleViolation("period_end",
                            f"a monitoring period lasts at least {bounds.min_period_days} days "
                            f"(a full growing season); {period.start}..{period.end} is {days}")


def check_plausible(bounds: PlausibilityBounds, vegetation: Vegetation | str, area_ha: Decimal,
                    period: Period, tonnes: Decimal, field: str) -> None:
    """Refuse `tonnes` (a claim or a verified quantity, named by `field`) above the ceiling."""
    ceiling = max_removal(bounds, vegetation, area_ha, period)
    if tonnes > ceiling:
        rate = bounds.max_removal[Vegetation(vegetation)]
        most = ceiling.quantize(Decimal("0.0001"), rounding=ROUND_DOWN)
        raise RuleViolation(
            field, f"{_text(tonnes)} t CO2e is implausible for {_text(area_ha)} ha of {vegetation} "
                   f"over {period_days(period)} days: at most {_text(rate)} t CO2e per hectare "
                   f"per year, so at most {_text(most)} t")
