"""The project lifecycle and the monitoring-report lifecycle as explicit, pure state machines.

Project:  draft -> submitted -> (changes_requested -> submitted)* -> registered | rejected
          draft and changes_requested are edited in place (edit: same state);
          any state before registered or rejected -> withdrawn (terminal, by the developer)
Report:   submitted -> verified -> issued,  submitted -> rejected

Every pair (state, action) not in a table is illegal: `IllegalTransition`, a conflict (409)
naming the current state. The database holds the same state names in check constraints.
"""
from __future__ import annotations

from enum import StrEnum

from tanhui_shared.errors import Conflict


class ProjectState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    CHANGES_REQUESTED = "changes_requested"
    REGISTERED = "registered"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"  # the developer gave up before registration: terminal


class ProjectAction(StrEnum):
    SUBMIT = "submit"
    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_CHANGES = "request_changes"
    EDIT = "edit"
    WITHDRAW = "withdraw"


class ReportState(StrEnum):
    SUBMITTED = "submitted"  # awaiting verification
    VERIFIED = "verified"  # MonitoringVerified published; awaiting CreditsIssued
    REJECTED = "rejected"
    ISSUED = "issued"


class ReportAction(StrEnum):
    VERIFY = "verify"
    REJECT = "reject"
    ISSUE = "issue"


PROJECT_TRANSITIONS: dict[tuple[ProjectState, ProjectAction], ProjectState] = {
    (ProjectState.DRAFT, ProjectAction.SUBMIT): ProjectState.SUBMITTED,
    (ProjectState.CHANGES_REQUESTED, ProjectAction.SUBMIT): ProjectState.SUBMITTED,
    (ProjectState.SUBMITTED, ProjectAction.APPROVE): ProjectState.REGISTERED,
    (ProjectState.SUBMITTED, ProjectAction.REJECT): ProjectState.REJECTED,
    (ProjectState.SUBMITTED, ProjectAction.REQUEST_CHANGES): ProjectState.CHANGES_REQUESTED,
    # the filing is edited only while it is the developer's to change: never under review
    (ProjectState.DRAFT, ProjectAction.EDIT): ProjectState.DRAFT,
    (ProjectState.CHANGES_REQUESTED, ProjectAction.EDIT): ProjectState.CHANGES_REQUESTED,
    # withdrawn before a decision makes the filing final; a registered project has credits
    # (or may have) and leaves the registry only through losses, never by withdrawal
    (ProjectState.DRAFT, ProjectAction.WITHDRAW): ProjectState.WITHDRAWN,
    (ProjectState.SUBMITTED, ProjectAction.WITHDRAW): ProjectState.WITHDRAWN,
    (ProjectState.CHANGES_REQUESTED, ProjectAction.WITHDRAW): ProjectState.WITHDRAWN,
}

REPORT_TRANSITIONS: dict[tuple[ReportState, ReportAction], ReportState] = {
    (ReportState.SUBMITTED, ReportAction.VERIFY): ReportState.VERIFIED,
    (ReportState.SUBMITTED, ReportAction.REJECT): ReportState.REJECTED,
    (ReportState.VERIFIED, ReportAction.ISSUE): ReportState.ISSUED,
}

# The review decision a verifier sends, as the action it performs on the project.
REVIEW_ACTIONS = {
    "approve": ProjectAction.APPROVE,
    "reject": ProjectAction.REJECT,
    "request_changes": ProjectAction.REQUEST_CHANGES,
}


class IllegalTransition(Conflict):
    """The action does not apply to the current state (often: someone else acted first)."""

    code = "illegal-transition"

    def __init__(self, state: str, action: str) -> None:
        super().__init__(f"cannot {action.replace('_', ' ')} in state {state}", field="state",
                         state=state)
        self.state = state
        self.action = action


def next_project_state(state: ProjectState | str, action: ProjectAction | str) -> ProjectState:
    key = (ProjectState(state), ProjectAction(action))
    if key not in PROJECT_TRANSITIONS:
        raise IllegalTransition(str(key[0]), str(key[1]))
    return PROJECT_TRANSITIONS[key]


def next_report_state(state: ReportState | str, action: ReportAction | str) -> ReportState:
    key = (ReportState(state), ReportAction(action))
    if key not in REPORT_TRANSITIONS:
        raise IllegalTransition(str(key[0]), str(key[1]))
    return REPORT_TRANSITIONS[key]


# States that release the project's forest-rights certificate for another filing.
CLOSED_STATES = (ProjectState.REJECTED, ProjectState.WITHDRAWN)


def holds_certificate(state: ProjectState | str) -> bool:
    """An active project (anything but rejected or withdrawn) keeps its forest-rights
    certificate to itself."""
    return ProjectState(state) not in CLOSED_STATES
