"""After a large event: the post-event accounting window, neutrality, and what an offset buys.

Practice followed (plan before, actual accounting after, then purchase, retirement, certificate):
- 重庆市大型会议和活动碳中和实施方案（试行） (Chongqing Ecology and Environment Bureau et al.,
  4 March 2025): plan beforehand, compute the emissions on the 碳惠通 platform after the event,
  buy and retire at least that much, then the certificate;
- 关于做好广东省大型活动碳中和工作的通知 (Guangdong Department of Ecology and Environment et al.,
  22 January 2026, with DB44/T 2639-2025 大型活动碳中和实施指南): neutrality completed "in
  principle no later than one year after the event ends".
The one-year window is Guangdong's; applying it here (a Sichuan city) is a platform choice.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from tanhui_shared.errors import Conflict

ACCOUNTING_YEARS = 1  # Guangdong 2026 notice: within one year after the event ends


def accounting_deadline(end_date: date) -> date:
    """The last day to file the actual data and complete the offset: one year after the end
    (29 February ends on 28 February)."""
    try:
        return end_date.replace(year=end_date.year + ACCOUNTING_YEARS)
    except ValueError:
        return end_date.replace(year=end_date.year + ACCOUNTING_YEARS, day=28)


class EventNotOver(Conflict):
    code = "event-not-over"


class NothingUncovered(Conflict):
    code = "nothing-uncovered"


def check_actuals_may_be_filed(end_date: date, today: date) -> None:
    """Actual data exist only once the event is over: from the day after its end date."""
    if today <= end_date:
        raise EventNotOver(f"actual data can be filed from {end_date + timedelta(days=1)}, the "
                           f"day after the event ends", field="end_date")


@dataclass(frozen=True)
class Neutrality:
    needed: int  # whole credits: the final figure rounded up, else the plan's
    retired: int
    provisional: bool  # no actual data filed yet: judged on the plan

    @property
    def uncovered(self) -> int:
        return max(self.needed - self.retired, 0)

    @property
    def neutral(self) -> bool:
        return self.retired >= self.needed


def neutrality(plan_credits: int, final_credits: int | None, retired: int) -> Neutrality:
    """Judged on the final figure once there is one; until then on the plan, provisionally."""
    if final_credits is None:
        return Neutrality(plan_credits, retired, provisional=True)
    return Neutrality(final_credits, retired, provisional=False)


def offset_quantity(state: Neutrality, requested: int | None) -> int:
    """What an offset buys: the requested quantity (beyond what is uncovered only when asked
    for explicitly), else what is still uncovered; nothing uncovered and nothing asked: 409."""
    if requested is not None:
        return requested
    if state.uncovered == 0:
        basis = "plan" if state.provisional else "final figure"
        raise NothingUncovered(
            f"nothing is uncovered: {state.retired} credits retired for this event against "
            f"{state.needed} needed by its {basis}; give an explicit quantity to retire more",
            field="quantity")
    return state.uncovered
