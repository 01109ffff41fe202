"""What an enterprise discloses for a period: gross emissions, credits retired, and net, side by
side (pure rules, no I/O).

GHG Protocol Corporate Accounting and Reporting Standard, revised edition (WRI/WBCSD, March
2004), ch. 8 "Accounting for GHG Reductions" (p. 59 on) and ch. 9 "Reporting GHG Emissions"
(pp. 64 and 66): scope 1 and 2 totals are reported independent of any GHG trades such as
offsets, and offsets purchased or developed are reported separately, outside the inventory
(paraphrased from the public transcriptions at dart.deloitte.com, "Chapter 8 Accounting for GHG
Reductions", and support.carbonaltdelete.eu, "GHG Protocol / offsetting"). So `gross` stays the
filed inventory total (scope 1 + 2), `retired` is a separate line, and `net` is only their
difference, shown beside both.

Retirements belong to the enterprise and period, not to one revision: a correction (revision 2)
does not undo credits retired against revision 1, so they keep counting, each still showing
the revision it was made against.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Disclosed:
    gross_tco2e: Decimal
    retired_tco2e: int
    net_tco2e: Decimal


def disclose(gross_tco2e: Decimal, retired_quantities: Iterable[int]) -> Disclosed:
    """The period's three figures from the current revision's gross total and every retirement
    made for the period (whichever revision it named). Net may go below zero when more was
    retired than emitted: shown as it is, never clipped, so the three always add up."""
    retired = sum(retired_quantities)
    return Disclosed(gross_tco2e=Decimal(gross_tco2e), retired_tco2e=retired,
                     net_tco2e=Decimal(gross_tco2e) - retired)
