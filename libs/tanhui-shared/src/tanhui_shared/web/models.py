"""The base of every request body: text PostgreSQL can store, or a 422 naming the field.

A lone surrogate (`"\\ud800"`, valid JSON, not encodable as UTF-8) or a NUL character would
otherwise pass validation and fail inside the database driver as a 500.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, field_validator


def is_storable(text: str) -> bool:
    """True for text PostgreSQL can hold: no NUL, encodable as UTF-8."""
    try:
        _storable(text)
    except ValueError:
        return False
    return True


def storable_text(value: str) -> str:
    """`value` itself if PostgreSQL can store it, else a ValueError (a 422 naming the field)."""
    return _storable(value)


def _storable(value: Any) -> Any:
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("must not contain NUL characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError("must be valid Unicode text (a lone surrogate is not)") from exc
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            _storable(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _storable(key)
            _storable(item)
    return value


class ApiModel(BaseModel):
    @field_validator("*", mode="after")
    @classmethod
    def _text_is_storable(cls, value: Any) -> Any:
        return _storable(value)
