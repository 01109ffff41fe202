"""Ledger quantities: whole, positive, bounded. Zero, negative, fractional, NaN and huge are 422."""
from __future__ import annotations

from typing import Annotated

from pydantic import Field

MAX_QUANTITY = 1_000_000_000  # 1 Gt: far beyond any single movement; anything above is an error

# strict: 1.5, "3", 1.0, true and NaN are refused rather than coerced into a whole number
WholeQuantity = Annotated[int, Field(strict=True, gt=0, le=MAX_QUANTITY)]
