"""Who may act on a project: its developer files and reports; independent verifiers judge.

ISO 14064-3 style independence: nobody verifies their own project, and (when strict) the
verifier who approved a project's design does not verify its monitoring as well.
"""
from __future__ import annotations

from tanhui_shared.errors import Forbidden


class NotTheDeveloper(Forbidden):
    code = "not-the-developer"


class ConflictOfInterest(Forbidden):
    code = "conflict-of-interest"


def check_developer(developer_user_id: str, caller_user_id: str, doing: str) -> None:
    if developer_user_id != caller_user_id:
        raise NotTheDeveloper(f"only the project's developer may {doing}")


def check_may_review(developer_user_id: str, verifier_user_id: str) -> None:
    if developer_user_id == verifier_user_id:
        raise ConflictOfInterest("a verifier may not review their own project "
                                 "(conflict of interest)")


def check_may_verify(developer_user_id: str, approver_user_id: str | None,
                     verifier_user_id: str, *, strict: bool) -> None:
    if developer_user_id == verifier_user_id:
        raise ConflictOfInterest("a verifier may not verify their own project "
                                 "(conflict of interest)")
    if strict and approver_user_id == verifier_user_id:
        raise ConflictOfInterest("the reviewer who approved the project's design may not verify "
                                 "its monitoring (conflict of interest)")
