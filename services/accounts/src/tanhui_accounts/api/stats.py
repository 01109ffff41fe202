"""The regulator's city figures: filed emissions by county and industry, green trips by mode."""
from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from tanhui_shared.service import SessionDep
from tanhui_shared.web.auth import Principal, require_role

from ..domain.targets import PLAN, TARGETS
from ..store.rollups import emissions_by, trips_by_mode

router = APIRouter(prefix="/api/v1", tags=["regulator"])
Regulator = Annotated[Principal, Depends(require_role("regulator"))]


class Group(BaseModel):
    key: str
    reports: int
    total_tco2e: Decimal


class ModeFigures(BaseModel):
    mode: str
    trips: int
    distance_km: Decimal
    reduction_kg: Decimal


class CityStats(BaseModel):
    period: str
    emissions_tco2e: Decimal
    by_county: list[Group]
    by_industry: list[Group]
    trips_by_mode: list[ModeFigures]
    targets: dict
    targets_source: str


@router.get("/stats/city", response_model=CityStats)
def city_stats(_: Regulator, session: SessionDep,
               period: Annotated[str, Query(pattern=r"^[0-9]{4}$",  # ASCII: \d takes ٢٠٢٤ too
                                            description="a year, e.g. 2025")]) -> CityStats:
    """Reports whose period falls in the year (annual, quarterly or monthly), current revisions,
    of confirmed enterprises only (a pending claim's reports are drafts). Read from the rollups
    the writes keep (store/rollups.py): no scan of the year's trips or reports."""
    def grouped(column: str) -> list[Group]:
        return [Group(key=k, reports=n, total_tco2e=t)
                for k, n, t in emissions_by(session, period, column)]

    trips = trips_by_mode(session, int(period))
    by_county = grouped("county")
    return CityStats(
        period=period,
        emissions_tco2e=sum((g.total_tco2e for g in by_county), Decimal(0)),
        by_county=by_county,
        by_industry=grouped("industry"),
        trips_by_mode=[ModeFigures(mode=m, trips=n, distance_km=d,
                                   reduction_kg=(Decimal(r) / 1000).quantize(Decimal("0.001")))
                       for m, n, d, r in trips],
        targets=TARGETS,
        targets_source=PLAN,
    )
