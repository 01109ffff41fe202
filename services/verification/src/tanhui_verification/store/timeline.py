"""Appending to a project's timeline, and the actors who are not people."""
from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session, col, select

from tanhui_shared.web.auth import Principal

from ..domain.accreditation import Grant
from .tables import Document, TimelineEntry

# Steps driven by another service's event are recorded under that service's name.
CREDITS_SERVICE = Principal(user_id="service:credits", username="credits", role="system")


def append_step(session: Session, project_id: str, step: str, actor: Principal, *,
                from_state: str | None, to_state: str, comments: str = "",
                monitoring_report_id: str | None = None,
                accreditation: Grant | None = None,
                loss_event_id: str | None = None) -> TimelineEntry:
    """`accreditation`: the grant a verifier's decision was made under (a verifier's step
    needs one: ck_project_timeline_accreditation)."""
    entry = TimelineEntry(project_id=project_id, step=step, from_state=from_state,
                          to_state=to_state, monitoring_report_id=monitoring_report_id,
                          actor_user_id=actor.user_id, actor_username=actor.username,
                          actor_role=actor.role, comments=comments,
                          loss_event_id=loss_event_id)
    if accreditation is not None:
        entry.accreditation_id = accreditation.accreditation_id
        entry.accreditation_number = accreditation.number
        entry.accreditation_organisation = accreditation.organisation
    session.add(entry)
    return entry


def timeline_of(session: Session, project_id: str) -> list[TimelineEntry]:
    query = select(TimelineEntry).where(TimelineEntry.project_id == project_id)
    return list(session.exec(query.order_by(TimelineEntry.seq)))


def attach_documents(session: Session, project_id: str, documents: Iterable[tuple[str, str]], *,
                     monitoring_report_id: str | None = None) -> None:
    """`documents`: (name, sha256) pairs; the hash is stored lower-case (one spelling each)."""
    for name, sha256 in documents:
        session.add(Document(project_id=project_id, monitoring_report_id=monitoring_report_id,
                             name=name, sha256=sha256.lower()))


def documents_of(session: Session, project_id: str,
                 monitoring_report_id: str | None = None) -> list[Document]:
    """The project's own documents (None) or those of one of its reports."""
    if monitoring_report_id is None:
        belongs = col(Document.monitoring_report_id).is_(None)
    else:
        belongs = col(Document.monitoring_report_id) == monitoring_report_id
    query = select(Document).where(Document.project_id == project_id, belongs)
    return list(session.exec(query.order_by(Document.id)))
