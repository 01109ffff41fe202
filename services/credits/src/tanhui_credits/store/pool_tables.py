"""Citizens' small redemptions pooled into whole retirements from the city's inclusion pool, and
each one's kg of the retired serials."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlmodel import Field

from tanhui_shared.messaging.outbox import utcnow

from ..domain.pooling import KG_PER_SERIAL
from .tables import CreditsTable, new_id


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


class PooledRedemption(CreditsTable, table=True):
    """One citizen's redemption of `kg` (RedemptionRequestedV2): completed on arrival, with its
    shares and certificate, or rejected on arrival when the pool cannot supply the serials."""

    __tablename__ = "pooled_redemption"
    __table_args__ = (
        sa.CheckConstraint("kg > 0 AND kg % 10 = 0", name="ck_pooled_redemption_kg"),
        # no waiting state: certified when completed, nothing when rejected
        sa.CheckConstraint(
            "(status = 'completed' AND certificate_id IS NOT NULL AND completed_at IS NOT NULL "
            "AND reason IS NULL) "
            "OR (status = 'rejected' AND certificate_id IS NULL AND completed_at IS NULL "
            "AND reason IS NOT NULL)",
            name="ck_pooled_redemption_state"),
        # the target of pool_share's (redemption_id, redemption_kg) key
        sa.UniqueConstraint("id", "kg", name="uq_pooled_redemption_id_kg"),
    )

    id: str = Field(primary_key=True)  # redemption_id
    user_id: str = Field(index=True)
    username: str
    kg: int = Field(sa_type=sa.BigInteger)
    status: str  # completed | rejected
    reason: str | None = None
    certificate_id: str | None = None
    requested_at: datetime = Field(default_factory=utcnow, sa_type=_ts())
    completed_at: datetime | None = Field(default=None, sa_type=_ts())


class PoolShare(CreditsTable, table=True):
    """kg [serial_from_kg, serial_to_kg) of one serial the pool retired ahead belong to kg
    [own_from_kg, own_to_kg) of one redemption; a serial's kg not in any share are the city's.
    The exclusion constraints make a serial's kg and a redemption's kg each given at most once:
    a serial is never allocated beyond 1,000 kg and a redemption never covered twice, whatever
    path forgot the pool's lock."""

    __tablename__ = "pool_share"
    __table_args__ = (
        sa.CheckConstraint(f"serial_from_kg >= 0 AND serial_from_kg < serial_to_kg "
                           f"AND serial_to_kg <= {KG_PER_SERIAL}",
                           name="ck_pool_share_serial_range"),
        sa.CheckConstraint("own_from_kg >= 0 AND own_from_kg < own_to_kg "
                           "AND own_to_kg <= redemption_kg", name="ck_pool_share_own_range"),
        sa.CheckConstraint("serial_to_kg - serial_from_kg = own_to_kg - own_from_kg",
                           name="ck_pool_share_same_kg"),
        ExcludeConstraint(("project_id", "="), ("vintage", "="), ("serial", "="),
                          (sa.text("int4range(serial_from_kg, serial_to_kg)"), "&&"),
                          name="ex_pool_share_serial_kg", using="gist"),
        ExcludeConstraint(("redemption_id", "="),
                          (sa.text("int8range(own_from_kg, own_to_kg)"), "&&"),
                          name="ex_pool_share_redemption_kg", using="gist"),
        sa.ForeignKeyConstraint(["redemption_id", "redemption_kg"],
                                ["pooled_redemption.id", "pooled_redemption.kg"],
                                name="fk_pool_share_redemption"),
        sa.ForeignKeyConstraint(["retirement_id"], ["retirement.id"],
                                name="fk_pool_share_retirement"),
    )

    id: str = Field(default_factory=new_id, primary_key=True)
    redemption_id: str
    redemption_kg: int = Field(sa_type=sa.BigInteger)
    retirement_id: str = Field(index=True)
    project_id: str
    project_number: int
    vintage: int
    serial: int = Field(sa_type=sa.BigInteger)
    serial_from_kg: int
    serial_to_kg: int
    own_from_kg: int = Field(sa_type=sa.BigInteger)
    own_to_kg: int = Field(sa_type=sa.BigInteger)
