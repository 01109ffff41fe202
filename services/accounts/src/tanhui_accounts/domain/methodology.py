"""Every parameter of green travel and points, with its value, unit and source: what
GET /api/v1/methodology publishes and the console's methodology page shows. Read from the rules
the platform computes with, never restated, so the page cannot drift from the arithmetic."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .points import EXPIRY_NOTICE, VALIDITY_YEARS
from .travel import GASOLINE, MAX_TRIP_DURATION, SICHUAN_GRID, Mode, TravelRules

SHENZHEN = ("深圳市低碳公共出行碳普惠方法学 (Shenzhen low-carbon public travel carbon-inclusion "
            "methodology)", "2021")
SHENZHEN_RULES = ("深圳市碳普惠管理办法 (Shenzhen carbon-inclusion management measures), "
                  "Shenzhen Ecology and Environment Bureau; transcribed in 深圳特区报 2022-08-26",
                  "in force 2022-08-18")
ASSUMPTION = ("platform assumption", "")


@dataclass(frozen=True)
class Parameter:
    key: str
    group: str  # baseline | reduction | ev | caps | speed | claims | points
    value: Decimal | int | str
    unit: str
    source: str
    version: str
    note: str = ""

    @property
    def assumption(self) -> bool:
        return self.source == ASSUMPTION[0]


def _p(key: str, group: str, value, unit: str, cited: tuple[str, str], note: str = "") -> Parameter:
    return Parameter(key, group, value, unit, cited[0], cited[1], note)


def parameters(rules: TravelRules) -> list[Parameter]:
    ev = rules.ev
    out = [
        _p("baseline.method", "baseline", "city-wide mixed-mode mean (均值法)", "", SHENZHEN,
           "a trip's reduction = the city's average emission per person-km over motorised "
           "modes minus its own mode's emission (as in DB11/T 3043-2024 and DB33/T 1312-2023)"),
        _p("reduction.walk", "reduction", rules.reduction_g_per_pkm(Mode.WALK), "gCO2/person-km",
           SHENZHEN, "walking emits nothing: the baseline itself, whose published value we could "
           "not read; the conservative lower bound (metro's reduction, since metro's own "
           "emission is >= 0; conservativeness, DB11/T 3043-2024 §4.3) is used. Not verified."),
        _p("reduction.bike", "reduction", rules.reduction_g_per_pkm(Mode.BIKE), "gCO2/person-km",
           SHENZHEN, "as walking"),
        _p("reduction.bus", "reduction", rules.bus_g_per_pkm, "gCO2/person-km", SHENZHEN,
           "e-bus"),
        _p("reduction.metro", "reduction", rules.metro_g_per_pkm, "gCO2/person-km", SHENZHEN),
        _p("reduction.ev", "reduction", ev.ev_saving_g_per_pkm().quantize(Decimal("0.001")),
           "gCO2/person-km", ("derived from the ev.* parameters below", ""),
           "(gasoline car g/vkm - EV g/vkm) / occupancy"),
        _p("ev.baseline_car_litres_per_100km", "ev", ev.litres_per_100km, "L/100 km",
           ("MIIT passenger-car corporate average fuel consumption (CAFC) reports", ""),
           "fleet average; the displaced private gasoline car"),
        _p("ev.gasoline_density", "ev", ev.gasoline_kg_per_litre, "kg/L",
           ("GB 17930 motor gasoline (density at 20 °C)", "")),
        _p("ev.gasoline_factor", "ev", GASOLINE.components.tco2_per_unit().quantize(
            Decimal("0.0001")), "tCO2/t", ("China enterprise GHG accounting guidelines, "
                                           "industry default parameters (NDRC)", "2015"),
           f"NCV {GASOLINE.components.ncv_gj_per_unit} GJ/t x "
           f"{GASOLINE.components.carbon_tc_per_tj} tC/TJ x oxidation "
           f"{GASOLINE.components.oxidation_rate} x 44/12"),
        _p("ev.grid", "ev", ev.grid_kg_per_kwh, "kgCO2/kWh",
           (SICHUAN_GRID.source, str(SICHUAN_GRID.year)),
           "Sichuan provincial grid: the platform serves a Sichuan city"),
        _p("ev.consumption", "ev", ev.ev_kwh_per_100km, "kWh/100 km", ASSUMPTION,
           "a typical compact battery-electric car; no city methodology found to cite"),
        _p("ev.occupancy", "ev", ev.occupancy, "persons/car", ASSUMPTION,
           "persons per urban car trip; no published city figure found"),
    ]
    out += [_p(f"cap.{mode.value}", "caps", cap, "points/day", ASSUMPTION,
               "keeps one citizen's daily claim plausible") for mode, cap in rules.daily_cap_points]
    out.append(_p("cap.all", "caps", rules.daily_cap_total, "points/day", ASSUMPTION,
                  "all modes together"))
    out += [_p(f"max_speed.{mode.value}", "speed", kmh, "km/h", ASSUMPTION,
               "a faster average is not this mode (anti-fraud)") for mode, kmh in rules.max_kmh]
    out.append(_p("max_trip_duration", "speed", int(MAX_TRIP_DURATION.total_seconds() // 3600),
                  "hours", ASSUMPTION, "a longer trip of any mode is refused (anti-fraud); "
                  "walking the daily capped 43 km takes under 9 hours"))
    out += [
        _p("claim_window", "claims", rules.claim_window.max_age.days, "days",
           ("Beijing MaaS green-travel carbon-inclusion scheme (北京MaaS出行 绿动全城), Beijing "
            "Daily 2020-09-11", "2020-09"), "counted from the trip itself"),
        _p("clock_skew", "claims", rules.claim_window.clock_skew.seconds, "s",
           ("MIT Kerberos krb5.conf(5) clockskew default", "krb5 1.13")),
        _p("points.per_kg", "points", rules.points_per_kg, "points/kg CO2e", ASSUMPTION,
           "1 point = 10 g CO2e avoided"),
        _p("points.validity", "points", VALIDITY_YEARS, "years", SHENZHEN_RULES,
           "有效期最长不超过10年: points expire 10 years after they were earned, oldest first "
           "(FIFO); points on hold for a pending redemption never expire"),
        _p("points.expiry_notice", "points", EXPIRY_NOTICE.days, "days", ASSUMPTION,
           "how far ahead the account shows points about to expire"),
        _p("redemption.unit", "points", rules.redemption_unit_points, "points", ASSUMPTION,
           f"= {rules.redemption_unit_kg} kg CO2e; redemptions are whole units"),
        _p("redemption.pool", "points", 1000, "kg per retired credit",
           ("pooling as Wuhan's carbon-inclusion platform does (武碳江湖 平台归集, Wuhan Ecology "
            "and Environment Bureau's second batch of methodologies, published 2024-09-02)",
            "2024-09-02"),
           "a credit is 1 tCO2e; citizens' redemptions are pooled and the city's inclusion "
           "pool retires whole serials once pending redemptions reach them; each citizen's "
           "certificate names their kg of each serial"),
    ]
    return out
