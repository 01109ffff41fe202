"""Worked examples for the large-event methodology (issue 13): the shared factor library's
versions and validity, the heat and travel lines, the post-event deadline and what an offset
buys. Expected figures are computed here by hand from the published values, not by the code."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tanhui_credits.domain.event_estimate import EventActivity, estimate
from tanhui_credits.domain.event_trueup import (EventNotOver, NothingUncovered,
                                                accounting_deadline, check_actuals_may_be_filed,
                                                neutrality, offset_quantity)
from tanhui_shared.errors import Invalid
from tanhui_shared.methodology import FACTORS, EmissionFactor, version_for

DAY = date(2025, 10, 26)


def test_heat_and_travel_lines_by_hand():
    # Purchased heat: 0.11 tCO2/GJ (NDRC guidelines default) -> 150 GJ x 0.11 = 16.5 t.
    # Bus: 0.10846 kg/passenger-km (DESNZ 2024, average local bus) -> 10 000 x 0.10846 / 1000
    # = 1.0846 t. Air: 0.27257 kg (domestic, with RF) -> 2 000 x 0.27257 / 1000 = 0.54514 t.
    result = estimate(EventActivity(heat_gj=Decimal(150), travel=(
        ("bus", Decimal(10_000)), ("air", Decimal(2_000)))), DAY, DAY)
    lines = {line.activity: line for line in result.lines}
    assert lines["purchased heat"].tco2e == Decimal("16.5")
    assert lines["purchased heat"].factor.code == "heat.purchased"
    assert lines["purchased heat"].factor.category == "energy"
    assert lines["travel by bus"].tco2e == Decimal("1.0846")
    assert lines["travel by air"].tco2e == Decimal("0.54514")
    assert result.by_category == {"energy": Decimal("16.5"), "travel": Decimal("1.62974")}
    assert result.total_tco2e == Decimal("18.12974")  # 16.5 + 1.0846 + 0.54514
    assert result.credits_to_neutralise() == 19


def test_natural_gas_in_nm3_uses_the_factor_per_ten_thousand_nm3():
    # 389.31 GJ/10^4 Nm3 x 15.3 tC/TJ / 1000 x 0.99 x 44/12 = 21.6218881 t per 10^4 Nm3;
    # 5 000 Nm3 = 0.5 x 10^4 Nm3 -> 10.81094 t
    result = estimate(EventActivity(natural_gas_nm3=Decimal(5000)), DAY, DAY)
    assert round(result.total_tco2e, 5) == Decimal("10.81094")


def test_the_five_corrected_factors_carry_their_2024_values():
    by_code = {f.code: f for f in FACTORS}
    # kg CO2e per unit as published, / 1000 = the library's tCO2e per unit
    assert by_code["travel.air.domestic"].value * 1000 == Decimal("0.27257")
    assert by_code["travel.bus"].value * 1000 == Decimal("0.10846")
    assert by_code["waste.landfill"].value * 1000 * 1000 == Decimal("520.3342")  # per tonne
    assert by_code["travel.rail"].value * 1000 == Decimal("0.03546")
    assert all(by_code[c].version == "DESNZ 2024" for c in ("travel.bus", "waste.landfill"))


def test_a_2023_event_cannot_use_a_factor_valid_from_2024_and_the_field_is_named():
    with pytest.raises(Invalid) as refused:
        estimate(EventActivity(travel=(("rail", Decimal(1)), ("bus", Decimal(10)))),
                 date(2023, 5, 1), date(2023, 5, 2))
    assert refused.value.field == "travel[0].mode"
    assert "travel.rail" in refused.value.detail and "2023-05-01" in refused.value.detail
    # energy and fuels have versions valid in 2023
    assert estimate(EventActivity(heat_gj=Decimal(1)), date(2023, 5, 1), date(2023, 5, 2)
                    ).total_tco2e == Decimal("0.11")
    with pytest.raises(Invalid) as negative:
        estimate(EventActivity(waste_kg=Decimal(-1)), DAY, DAY)
    assert negative.value.field == "waste_kg"


def _bus(version: str, kg: str, start: date, end: date | None) -> EmissionFactor:
    return EmissionFactor("travel.bus", "Average local bus", "travel", 3, "person-km",
                          Decimal(kg) / 1000, "test", version, start, end)


def test_the_version_valid_for_the_whole_period_is_picked():
    versions = [_bus("2023", "0.10215", date(2023, 1, 1), date(2023, 12, 31)),
                _bus("2024", "0.10846", date(2024, 1, 1), None)]
    assert version_for(versions, "travel.bus", date(2023, 3, 1), date(2023, 3, 3)).version == "2023"
    assert version_for(versions, "travel.bus", date(2026, 1, 1)).version == "2024"
    with pytest.raises(Invalid) as straddling:  # 31 Dec 2023 - 1 Jan 2024 fits neither
        version_for(versions, "travel.bus", date(2023, 12, 31), date(2024, 1, 1), field="x")
    assert straddling.value.field == "x"
    with pytest.raises(Invalid) as unknown:
        version_for(versions, "travel.ferry", date(2024, 1, 1))
    assert unknown.value.field == "factor_code"


def test_the_post_event_deadline_is_one_year_after_the_end():
    assert accounting_deadline(date(2025, 10, 26)) == date(2026, 10, 26)
    assert accounting_deadline(date(2024, 2, 29)) == date(2025, 2, 28)
    with pytest.raises(EventNotOver):
        check_actuals_may_be_filed(date(2025, 10, 26), today=date(2025, 10, 26))
    check_actuals_may_be_filed(date(2025, 10, 26), today=date(2025, 10, 27))


def test_neutrality_follows_the_final_figure_and_the_default_offset_is_what_is_uncovered():
    plan = neutrality(336, None, retired=0)
    assert (plan.provisional, plan.needed, plan.uncovered, plan.neutral) == (True, 336, 336, False)
    assert offset_quantity(plan, None) == 336
    covered = neutrality(336, None, retired=336)
    with pytest.raises(NothingUncovered) as nothing:  # the second call that bought 673 in all
        offset_quantity(covered, None)
    assert nothing.value.field == "quantity"
    assert offset_quantity(covered, 10) == 10  # beyond it only when asked for explicitly
    final = neutrality(336, 350, retired=336)  # actuals came in higher than the plan
    assert (final.provisional, final.neutral, final.uncovered) == (False, False, 14)
    assert offset_quantity(final, None) == 14
