from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tanhui_shared.web.problems import Problem

from ..domain.serials import InsufficientCredits


@contextmanager
def insufficient(field: str = "quantity") -> Iterator[None]:
    """InsufficientCredits -> 409 naming the quantity (the transaction rolls back: nothing written)."""
    try:
        yield
    except InsufficientCredits as short:
        raise Problem(409, f"insufficient credits: quantity {short.wanted} requested, "
                      f"{short.available} available", field=field,
                      requested=short.wanted, available=short.available) from None
