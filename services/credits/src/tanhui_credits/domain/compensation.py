"""How a verified loss is compensated in credits (pure: no I/O).

Anchor: Verra's VCS Program. VCS Standard v4.5, section 3.2.26 defines a reversal (a monitoring
period whose net GHG benefit is negative) and the project proponent's obligation to compensate
the AFOLU pooled buffer account for it, under the AFOLU Buffer Account Compensation for
Reversals Deed v1.1 (required of AFOLU projects registering from 2024-01-01; Verra program
notice "New AFOLU buffer pool compensation agreement"). Buffer credits equal to the loss are
cancelled; the platform follows that, in this order:

1. the buffer pool's credits of the project that lost the carbon (its own contribution first);
2. then the pool's credits of any other project (the pool is shared: that is what it is for);
3. then, when the pool is short, the developer's own holdings (the deed's obligation to make
   the pool whole, applied at once instead of as a later debt);
4. what none of them can cover is recorded as the loss's shortfall and shown publicly; no
   balance ever goes below zero.

Platform choices, stated because no source fixes them here:
- A loss of t tCO2e calls for ceil(t) credits (1 credit = 1 tCO2e): rounding up never leaves a
  fraction of a lost tonne uncompensated.
- At most what the project was ever issued (owner + buffer credits) less what earlier losses
  already called for: a tonne never credited was never sold, so there is nothing to make good.
  The VCS rules were not re-read for this cap; it is the platform's assumption.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal


def loss_credits(verified_tco2e: Decimal) -> int:
    """Whole credits for a verified loss, rounded up."""
    if verified_tco2e <= 0:
        raise ValueError("a loss is greater than zero")
    return int(verified_tco2e.to_integral_value(rounding=ROUND_CEILING))


def required_credits(loss: int, issued_to_project: int, compensated_before: int) -> int:
    """The credits this loss calls for: capped at what is left of the project's issuance."""
    return max(0, min(loss, issued_to_project - compensated_before))


@dataclass(frozen=True)
class Split:
    pool_own: int  # the project's own credits in the buffer pool
    pool_other: int  # other projects' credits in the buffer pool
    developer: int  # the developer's holdings
    shortfall: int

    @property
    def from_pool(self) -> int:
        return self.pool_own + self.pool_other


def split(required: int, *, pool_own: int, pool_other: int, developer: int) -> Split:
    """Draw `required` from the sources in the documented order; the rest is the shortfall."""
    if min(required, pool_own, pool_other, developer) < 0:
        raise ValueError("quantities are not negative")
    left = required
    taken = []
    for available in (pool_own, pool_other, developer):
        take = min(left, available)
        taken.append(take)
        left -= take
    return Split(taken[0], taken[1], taken[2], left)
