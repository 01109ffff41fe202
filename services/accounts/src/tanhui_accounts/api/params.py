"""Path parameters: ids are looked up in PostgreSQL, which cannot store a NUL character or a lone
surrogate; such an id is a 422 naming the parameter, not a driver error (500)."""
from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator

from tanhui_shared.web.models import is_storable


def _storable_id(value: str) -> str:
    if not is_storable(value):
        raise ValueError("must be text without NUL characters or lone surrogates")
    return value


Id = Annotated[str, Path(min_length=1, max_length=100), AfterValidator(_storable_id)]
