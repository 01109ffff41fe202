"""Appending to a project's timeline, and the actors who are not people."""
from __future__ import annotations

from sqlmodel import Session, select

from tanhui_shared.web.auth import Principal

from .tables import Document, TimelineEntry

# Steps driven by another service's event are recorded under that service's name.
CREDITS_SERVICE = Principal(user_id="service:credits", username="credits", role="system")


def append_step(session: Session, project_id: str, step: str, actor: Principal, *,
                from_state: str | None, to_state: str, comments: str = "",
                monitoring_report_id: str | None = None) -> TimelineEntry:
    entry = TimelineEntry(project_id=project_id, step=step, from_state=from_state,
                          to_state=to_state, monitoring_report_id=monitoring_report_id,
                          actor_user_id=actor.user_id, actor_username=actor.username,
                          actor_role=actor.role, comments=comments)
    session.add(entry)
    return entry


def timeline_of(session: Session, project_id: str) -> list[TimelineEntry]:
    query = select(TimelineEntry).where(TimelineEntry.project_id == project_id)
    return list(session.exec(query.order_by(TimelineEntry.seq)))


def attach_documents(session: Session, project_id: str, documents: list, *,
                     monitoring_report_id: str | None = None) -> None:
    for doc in documents:
        session.add(Document(project_id=project_id, monitoring_report_id=monitoring_report_id,
                             name=doc.name, sha256=doc.sha256.lower()))


def documents_of(session: Session, project_id: str,
                 monitoring_report_id: str | None = None) -> list[Document]:
    query = select(Document).where(Document.project_id == project_id,
                                   Document.monitoring_report_id == monitoring_report_id)
    if monitoring_report_id is None:
        query = select(Document).where(Document.project_id == project_id,
                                       Document.monitoring_report_id.is_(None))  # type: ignore[union-attr]
    return list(session.exec(query.order_by(Document.id)))
