"""The city's carbon-peak targets (南充市碳达峰实施方案, 南府发〔2024〕1号, §二 主要目标)."""
from __future__ import annotations

PLAN = "南充市碳达峰实施方案 (Nanchong carbon-peak implementation plan, 2024)"

TARGETS = {
    "2025": {
        "co2_per_gdp_reduction_vs_2020_pct": 19.0,
        "energy_per_gdp_reduction_vs_2020_pct": 14.5,
        "non_fossil_energy_share_pct": 41.5,
        "hydro_wind_solar_capacity_mw": 960,
    },
    "2030": {
        "co2_per_gdp_reduction_vs_2005_pct": 70.0,  # "70% or more"
        "non_fossil_energy_share_pct": 43.5,
        "hydro_wind_solar_capacity_mw": 1030,
    },
}

COUNTIES = ("顺庆区", "高坪区", "嘉陵区", "阆中市", "南部县", "西充县", "营山县", "蓬安县", "仪陇县")
