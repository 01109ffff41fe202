"""Loss events: carbon a registered project lost (fire, pests, logging, ...), and reversals
(pure: no I/O).

Anchor: Verra's VCS Program, whose AFOLU rules the platform follows for non-permanence (VCS
Standard v4.5, section 3.2.26, and the AFOLU Buffer Account Compensation for Reversals Deed
v1.1, required for AFOLU projects registering from 2024-01-01). A loss is reported by the
project developer with its date, area and estimated tonnes, verified by an accredited verifier
(confirmed, possibly at a corrected quantity, or rejected), and a confirmed loss is compensated
in the registry from the buffer pool, then from the developer's own holdings (registry side:
tanhui_credits). A verified reversal (a monitoring period with a negative net) becomes a loss of
cause `reversal` and is compensated the same way.

State machine:  reported -> verified -> compensated,  reported -> rejected
A reversal's loss is created `verified` (its report was verified already).
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum

from .lifecycle import IllegalTransition
from .rules import TCO2E_QUANTUM, RuleViolation, crediting_end


class LossCause(StrEnum):
    """What a developer may report."""

    FIRE = "fire"
    PESTS = "pests"
    LOGGING = "logging"
    OTHER = "other"


REVERSAL = "reversal"  # the cause of a loss that a verified negative monitoring period creates
ALL_CAUSES = [*(str(c) for c in LossCause), REVERSAL]


class LossState(StrEnum):
    REPORTED = "reported"
    VERIFIED = "verified"
    REJECTED = "rejected"
    COMPENSATED = "compensated"


class LossAction(StrEnum):
    CONFIRM = "confirm"
    REJECT = "reject"
    COMPENSATE = "compensate"


LOSS_TRANSITIONS: dict[tuple[LossState, LossAction], LossState] = {
    (LossState.REPORTED, LossAction.CONFIRM): LossState.VERIFIED,
    (LossState.REPORTED, LossAction.REJECT): LossState.REJECTED,
    (LossState.VERIFIED, LossAction.COMPENSATE): LossState.COMPENSATED,
}


def next_loss_state(state: LossState | str, action: LossAction | str) -> LossState:
    key = (LossState(state), LossAction(action))
    if key not in LOSS_TRANSITIONS:
        raise IllegalTransition(str(key[0]), str(key[1]))
    return LOSS_TRANSITIONS[key]


def check_loss_filing(occurred_on: date, area_ha: Decimal, *, today: date,
                      crediting_start: date, crediting_years: int,
                      project_area_ha: Decimal) -> None:
    """A loss happens on the project's land, inside its crediting period, and not in the
    future; each refusal names its field."""
    if occurred_on > today:
        raise RuleViolation("occurred_on", f"a loss is reported after it happens, not for "
                                           f"{occurred_on} (today is {today})")
    end = crediting_end(crediting_start, crediting_years)
    if not crediting_start <= occurred_on < end:
        raise RuleViolation("occurred_on", f"the loss must fall inside the crediting period "
                                           f"{crediting_start}..{end}")
    if area_ha > project_area_ha:
        raise RuleViolation("area_ha", f"the burnt, infested or logged area cannot exceed the "
                                       f"project's {project_area_ha.normalize():f} ha")


def check_loss_decision(decision: str, verified: Decimal | None) -> Decimal | None:
    """Confirmed needs the verified loss (the verifier may correct the estimate either way);
    rejected carries none."""
    if decision == "confirmed":
        if verified is None:
            raise RuleViolation("verified_tco2e", "a confirmed loss needs verified_tco2e")
        return verified.quantize(TCO2E_QUANTUM)
    if verified is not None:
        raise RuleViolation("verified_tco2e", "a rejected loss carries no verified_tco2e")
    return None
