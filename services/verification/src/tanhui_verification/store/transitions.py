"""State changes as conditional updates: a row leaves a state at most once.

The use cases lock the row first, so a conditional update normally matches. If a code path forgot
that lock (or two requests slipped past it), the second UPDATE ... WHERE state = <before> matches
nothing: the row count says so, and the change is refused instead of applied twice.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlmodel import Session

from .tables import MonitoringReport, Project


def move(session: Session, row: Project | MonitoringReport, before: str, after: str,
         **values: Any) -> bool:
    """Set `row` to `after` (and `values`) only if it is still in `before`; False if not."""
    model = type(row)
    statement = (update(model).where(model.id == row.id, model.state == before)
                 .values(state=after, **values)
                 .execution_options(synchronize_session="fetch"))  # the row object follows
    return session.exec(statement).rowcount == 1
