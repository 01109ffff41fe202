"""Issuance rows, the projects they are for, and the serial counter per project and vintage."""
from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, select

from tanhui_shared.contracts import MonitoringVerified
from tanhui_shared.errors import Conflict

from .tables import Issuance, Project, SerialCounter


def issuance_of_report(session: Session, monitoring_report_id: str) -> Issuance | None:
    return session.exec(select(Issuance)
                        .where(Issuance.monitoring_report_id == monitoring_report_id)).first()


def remember_project(session: Session, verified: MonitoringVerified) -> Project:
    """The project as the registry knows it; its registry number never changes."""
    session.execute(insert(Project).values(
        id=verified.project_id, project_number=verified.project_number,
        name=verified.project_name, kind=verified.project_kind, county=verified.county,
        owner_user_id=verified.owner_user_id).on_conflict_do_nothing(index_elements=["id"]))
    project = session.get(Project, verified.project_id)
    assert project is not None
    if project.project_number != verified.project_number:
        raise Conflict(f"project {project.id} already has registry number "
                       f"{project.project_number}, not {verified.project_number}",
                       field="project_number", code="registry-number-mismatch")
    return project


def reserve_serials(session: Session, project_id: str, vintage: int, count: int) -> int:
    """The first of `count` fresh serials for (project, vintage). The counter row is created if
    missing and locked, so concurrent issuances of one vintage take consecutive ranges."""
    session.execute(insert(SerialCounter).values(project_id=project_id, vintage=vintage,
                                                 next_serial=1)
                    .on_conflict_do_nothing(index_elements=["project_id", "vintage"]))
    counter = session.exec(select(SerialCounter)
                           .where(SerialCounter.project_id == project_id,
                                  SerialCounter.vintage == vintage).with_for_update()).one()
    first = counter.next_serial
    counter.next_serial = first + count
    session.add(counter)
    return first
