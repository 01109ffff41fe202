"""The green-travel and points methodology, public: every parameter with its source."""
from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter, Request
from pydantic import BaseModel

from ..domain.methodology import parameters

router = APIRouter(prefix="/api/v1", tags=["methodology"])


class ParameterOut(BaseModel):
    key: str
    group: str
    value: Decimal | int | str
    unit: str
    source: str
    version: str
    assumption: bool  # true: a platform choice, `note` says why
    note: str


class MethodologyOut(BaseModel):
    parameters: list[ParameterOut]


@router.get("/methodology", response_model=MethodologyOut)
def methodology(request: Request) -> MethodologyOut:
    """Every parameter of green travel and points: value, unit, source and version, or a stated
    platform assumption. Public."""
    return MethodologyOut(parameters=[ParameterOut.model_validate(p, from_attributes=True)
                                      for p in parameters(request.app.state.travel_rules)])
