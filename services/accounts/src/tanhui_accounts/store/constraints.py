"""What each named constraint of accounts' schema (tables.py, migrations) means to a user.

A violation reaches the web layer or the consumer as a 409 with this sentence and field, so a
race the application did not see coming still answers as a conflict, never a 500.
"""
from __future__ import annotations

from tanhui_shared.errors import describe_constraints

ACCOUNTS_CONSTRAINTS: dict[str, tuple[str, str | None]] = {
    "uq_user_account_username": ("this username is already taken", "username"),
    "uq_enterprise_uscc": ("an enterprise with this unified social credit code is registered",
                           "uscc"),
    "uq_emission_factor_code_version": ("this factor version is already published; give the new "
                                        "values a new version", "version"),
    "uq_carbon_report_revision": ("a report for this period was filed or revised by another "
                                  "request at the same time; read the current report and revise "
                                  "it if needed", "period"),
    "uq_carbon_report_current": ("a report for this period was filed or revised by another "
                                 "request at the same time; read the current report and revise "
                                 "it if needed", "period"),
    "uq_green_trip_external_id": ("a trip with this external_id was recorded by another request "
                                  "at the same time", "external_id"),
    "uq_points_entry_redemption_kind": ("this redemption's points were already held, settled or "
                                        "released", "redemption_id"),
    "uq_points_entry_redemption_outcome": ("this redemption is already settled or released",
                                           "redemption_id"),
    "ck_points_account_balance_not_negative": ("a points balance cannot go below zero", "points"),
    "ck_points_account_held_within_balance": ("not enough points available: points on hold "
                                              "cannot exceed the balance", "points"),
    "ck_points_entry_points_positive": ("a ledger entry moves a positive number of points",
                                        "points"),
    "ck_points_entry_balance_after_not_negative": ("a points balance cannot go below zero",
                                                   "points"),
    "ck_points_entry_held_after_within_balance": ("not enough points available: points on hold "
                                                  "cannot exceed the balance", "points"),
    "ck_daily_points_within_cap": ("the day's points cap was reached by other trips recorded at "
                                   "the same time; send the trip again to have it capped", "trip"),
    "ck_redemption_points_positive": ("a redemption holds a positive number of points", "points"),
    "ck_redemption_quantity_positive": ("a redemption buys at least one whole credit", "points"),
}

describe_constraints(ACCOUNTS_CONSTRAINTS)
