"""Random sequences of the registry's real use cases on PostgreSQL (issue, transfer, list, cancel,
buy for an event and retire, retire, redeem from the inclusion pool), each checked after every
step against the invariants, recomputed with SQL from the rows, and against a small model of
who may spend what."""
from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, invariant, precondition, rule,
                                 run_state_machine_as_test)
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tanhui_credits.domain.event_estimate import EventActivity
from tanhui_credits.domain.serials import InsufficientCredits, issuance_split
from tanhui_credits.store.accounts import INCLUSION_POOL_USERNAME
from tanhui_credits.store.market import ListingNotOpen
from tanhui_credits.store.reconcile import registry_discrepancies
from tanhui_credits.usecases import (cancel_listing, create_listing, issue_credits,
                                     offset_event, open_holding_account,
                                     redeem_from_inclusion_pool, register_event, retire_credits,
                                     transfer_credits)
from tanhui_shared.contracts import MonitoringVerified, RedemptionRequested
from tanhui_shared.db import make_engine
from tanhui_shared.errors import Forbidden, Invalid
from tanhui_shared.uow import in_unit_of_work

HOLDERS = ("dev-a", "dev-b", "organizer")  # user id = username; the organizer buys for events
POOL = "pool"  # the city's inclusion pool, in the model
QUANTITY = st.integers(1, 250)

INVARIANTS = {  # name -> SQL counting violations (0 when the invariant holds)
    "issued = held + retired + buffer per project and vintage": """
        SELECT count(*) FROM (SELECT project_id, vintage, sum(owner_quantity + buffer_quantity) n
                              FROM issuance GROUP BY 1, 2) i
        FULL JOIN (SELECT project_id, vintage, sum("last" - "first" + 1) n FROM serial_block
                   WHERE status IN ('active', 'retired') GROUP BY 1, 2) b
        USING (project_id, vintage)
        WHERE coalesce(i.n, 0) <> coalesce(b.n, 0)""",
    "no serial in two live blocks": """
        SELECT count(*) FROM serial_block a JOIN serial_block b ON a.id < b.id
         AND a.project_id = b.project_id AND a.vintage = b.vintage
         AND a."first" <= b."last" AND b."first" <= a."last"
        WHERE a.status IN ('active', 'retired') AND b.status IN ('active', 'retired')""",
    "a listing's remaining is what its active reserved blocks hold": """
        SELECT count(*) FROM listing_stock k WHERE k.remaining <> (
            SELECT coalesce(sum("last" - "first" + 1), 0) FROM serial_block b
            WHERE b.listing_id = k.listing_id AND b.status = 'active')""",
    "nothing negative or empty": """
        SELECT (SELECT count(*) FROM serial_block WHERE "first" < 1 OR "last" < "first")
             + (SELECT count(*) FROM listing_stock WHERE remaining < 0 OR remaining > quantity)
             + (SELECT count(*) FROM retirement WHERE quantity <= 0)
             + (SELECT count(*) FROM payment WHERE quantity <= 0)""",
}
# all of them in one statement: one snapshot, one round trip per step
CHECK = sa.text("SELECT " + ", ".join(f"({sql}) AS \"{name}\"" for name, sql in INVARIANTS.items()))
# back to an empty registry between examples (the migration's seed rows stay)
EMPTY = ["DELETE FROM payment", "DELETE FROM serial_block", "DELETE FROM listing_stock",
         "DELETE FROM listing", "DELETE FROM large_event", "DELETE FROM redemption",
         "DELETE FROM certificate", "DELETE FROM retirement", "DELETE FROM issuance", "DELETE FROM serial_counter",
         "DELETE FROM registry_project", "DELETE FROM audit_entry", "DELETE FROM audit_pending",
         "DELETE FROM outbox",
         "DELETE FROM holding_account WHERE kind <> 'system'",
         "UPDATE audit_head SET last_seq = 0, last_hash = repeat('0', 64)"]
SPENDABLE = sa.text("""
    SELECT a.owner_user_id, coalesce(sum(b."last" - b."first" + 1), 0)
    FROM holding_account a LEFT JOIN serial_block b
      ON b.account_id = a.id AND b.status = 'active' AND b.listing_id IS NULL
    GROUP BY a.owner_user_id""")


class Registry(RuleBasedStateMachine):
    """Each example starts from an empty registry in the migrated database the test sets."""

    engine: Engine

    def __init__(self) -> None:
        super().__init__()
        with self.engine.begin() as conn:
            for statement in EMPTY:
                conn.execute(sa.text(statement))
        for user in HOLDERS:
            self.run(lambda uow, u=user: open_holding_account(uow, u, u, "organisation", "seed"))
        self.spendable = dict.fromkeys((*HOLDERS, POOL), 0)  # what each may still spend
        self.listings: dict[str, dict] = {}  # id -> seller, price, remaining, open
        self.issued = 0

    def teardown(self) -> None:
        with Session(self.engine) as session:  # the reconciliation agrees, at the end of each run
            assert registry_discrepancies(session) == []

    def run(self, operation):  # noqa: ANN001, ANN201
        return in_unit_of_work(self.engine, operation)

    @rule(owner=st.sampled_from(HOLDERS[:2]), project=st.integers(1, 3),
          vintage=st.sampled_from([2024, 2025]), tonnes=st.integers(0, 400),
          buffer_pct=st.sampled_from([0, 10, 25]))
    def issue(self, owner: str, project: int, vintage: int, tonnes: int, buffer_pct: int) -> None:
        self.issued += 1
        verified = MonitoringVerified(
            issuance_id=f"issuance-{self.issued}", project_id=f"project-{project}",
            project_number=project, project_name=f"forest {project}", project_kind="afforestation",
            county="Longquanyi", owner_user_id=owner, owner_username=owner,
            monitoring_report_id=f"report-{self.issued}", verification_id="v",
            verifier_user_id="verifier", period_start=date(vintage, 1, 1),
            period_end=date(vintage, 12, 31), vintage=vintage,
            verified_tco2e=Decimal(tonnes), buffer_pct=Decimal(buffer_pct))
        self.run(lambda uow: issue_credits(uow, verified, "event"))
        self.spendable[owner] += issuance_split(Decimal(tonnes), Decimal(buffer_pct))[0]

    def _spend(self, holder: str, quantity: int, operation) -> bool:  # noqa: ANN001
        """Run `operation`; it must succeed exactly when `holder` has `quantity` to spend."""
        try:
            self.run(operation)
        except InsufficientCredits as short:
            assert short.available == self.spendable[holder] < quantity
            return False
        assert self.spendable[holder] >= quantity
        self.spendable[holder] -= quantity
        return True

    @rule(sender=st.sampled_from(HOLDERS), receiver=st.sampled_from((*HOLDERS, POOL)),
          quantity=QUANTITY)
    def transfer(self, sender: str, receiver: str, quantity: int) -> None:
        to = INCLUSION_POOL_USERNAME if receiver == POOL else receiver
        if sender == receiver:
            with pytest.raises(Invalid):
                self.run(lambda uow: transfer_credits(uow, sender, to, quantity))
        elif self._spend(sender, quantity,
                         lambda uow: transfer_credits(uow, sender, to, quantity)):
            self.spendable[receiver] += quantity

    @rule(holder=st.sampled_from(HOLDERS), quantity=QUANTITY)
    def retire(self, holder: str, quantity: int) -> None:
        self._spend(holder, quantity, lambda uow: retire_credits(
            uow, holder, quantity, beneficiary=holder, purpose="pledge"))

    @rule(seller=st.sampled_from(HOLDERS[:2]), quantity=QUANTITY, price=st.integers(1, 50))
    def list_credits(self, seller: str, quantity: int, price: int) -> None:
        # a unique price per listing, so the model knows which one a buyer takes first
        unique = Decimal(price) + Decimal(len(self.listings)) / 100
        made = {}

        def list_them(uow) -> None:  # noqa: ANN001
            made["id"] = create_listing(uow, seller, quantity, unique).id

        if self._spend(seller, quantity, list_them):
            self.listings[made["id"]] = {"seller": seller, "price": unique,
                                                 "remaining": quantity, "open": True}

    @precondition(lambda self: self.listings)
    @rule(data=st.data(), by_seller=st.booleans())
    def cancel(self, data: st.DataObject, by_seller: bool) -> None:
        # by position in creation order: ids are random, positions replay the same way
        listing_id = list(self.listings)[data.draw(st.integers(0, len(self.listings) - 1))]
        listing = self.listings[listing_id]
        caller = listing["seller"] if by_seller else "organizer"
        if not by_seller:
            with pytest.raises(Forbidden):
                self.run(lambda uow: cancel_listing(uow, caller, listing_id))
        elif not listing["open"]:
            with pytest.raises(ListingNotOpen):
                self.run(lambda uow: cancel_listing(uow, caller, listing_id))
        else:
            self.run(lambda uow: cancel_listing(uow, caller, listing_id))
            self.spendable[caller] += listing["remaining"]
            listing.update(remaining=0, open=False)

    @rule(quantity=QUANTITY)
    def offset(self, quantity: int) -> None:
        event = self.run(lambda uow: register_event(
            uow, "organizer", name="fair", start_date=date(2025, 5, 1),
            end_date=date(2025, 5, 1), venue="Jinjiang", attendees=10,
            activity=EventActivity(), submitted="{}"))
        listed = sorted((l for l in self.listings.values() if l["open"]),
                        key=lambda l: l["price"])
        available = sum(l["remaining"] for l in listed)
        try:
            self.run(lambda uow: offset_event(uow, "organizer", event.id, quantity))
        except InsufficientCredits as short:
            assert short.available == available < quantity
            return
        assert available >= quantity
        for listing in listed:  # cheapest first; the organizer retires all it bought
            bought = min(quantity, listing["remaining"])
            listing["remaining"] -= bought
            listing["open"] = listing["remaining"] > 0
            quantity -= bought

    @rule(quantity=st.integers(1, 60))
    def redeem(self, quantity: int) -> None:
        request = RedemptionRequested(redemption_id=str(uuid.uuid4()), user_id="citizen",
                                      username="citizen", points=quantity * 1000,
                                      quantity=quantity)
        redemption = self.run(lambda uow: redeem_from_inclusion_pool(uow, request))
        assert redemption.status == ("completed" if self.spendable[POOL] >= quantity
                                     else "rejected")
        if redemption.status == "completed":
            self.spendable[POOL] -= quantity

    @invariant()
    def registry_adds_up(self) -> None:
        with Session(self.engine) as session:
            violations = session.execute(CHECK).mappings().one()
            assert {name: count for name, count in violations.items() if count} == {}
            spendable = dict(session.execute(SPENDABLE).all())
            remaining = dict(session.execute(sa.text("SELECT listing_id, remaining FROM listing_stock")).all())
        pool = spendable.pop("system:city-inclusion-pool")
        assert {user: spendable[user] for user in HOLDERS} == \
            {user: self.spendable[user] for user in HOLDERS}
        assert pool == self.spendable[POOL]
        assert remaining == {i: l["remaining"] for i, l in self.listings.items()}


def test_registry_invariants_hold_under_random_use(migrated_database):
    Registry.engine = make_engine(migrated_database("credits"), pool_size=1)
    try:
        run_state_machine_as_test(Registry, settings=settings(
            max_examples=25, stateful_step_count=15, deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
            # no shrinking: each replay costs a database's worth of steps, and shrinking a
            # failure here outlasts the test timeout; the failing steps are printed as they ran
            phases=[Phase.explicit, Phase.reuse, Phase.generate]))
    finally:
        Registry.engine.dispose()
