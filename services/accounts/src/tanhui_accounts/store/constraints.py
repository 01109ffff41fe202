"""What each named constraint of accounts' schema (tables.py, migrations) means to a user.

A violation reaches the web layer or the consumer as a 409 with this sentence and field, so a
race the application did not see coming still answers as a conflict, never a 500.
"""
from __future__ import annotations

from tanhui_shared.errors import Described, describe_constraints

# name -> (sentence, field[, problem code]); without a code, the kind's (tanhui_shared.errors)
ACCOUNTS_CONSTRAINTS: dict[str, Described] = {
    "uq_user_account_username": ("this username is already taken", "username", "username-taken"),
    "ex_accreditation_one_live_grant": ("this account already holds an unrevoked grant for some "
                                        "of these days; start the renewal after it ends or revoke "
                                        "it first", "valid_from", "grant-overlap"),
    "ck_accreditation_role": ("only verifiers and transit operators are granted", "role",
                              "role-not-grantable"),
    "ck_accreditation_dates": ("valid_to (the last valid day) must not be before valid_from",
                               "valid_to", "validity-reversed"),
    "ck_accreditation_modes": ("a transit operator's licence names its travel modes; a "
                               "verifier's accreditation names none", "modes", "licence-modes"),
    "ck_accreditation_modes_known": ("a licence names only known travel modes", "modes"),
    "ck_accreditation_revocation": ("a revocation records when, by whom and why", "reason"),
    "fk_accreditation_user": ("the granted account does not exist", "username"),
    "uq_oauth_client_user": ("this transit operator already has client credentials",
                             "username"),
    "ck_oauth_client_previous_secret": ("a replaced client secret needs the moment it stops "
                                        "working", "client_secret"),
    "fk_oauth_client_user": ("the operator's account does not exist", "username"),
    "uq_enterprise_confirmed_uscc": ("another claim to this unified social credit code was "
                                     "confirmed at the same time: a code has one confirmed "
                                     "enterprise", "uscc", "uscc-confirmed"),
    "uq_enterprise_open_claim": ("you already have a pending or confirmed claim to this unified "
                                 "social credit code", "uscc", "uscc-already-claimed"),
    "ck_enterprise_claim_status": ("a claim is pending, confirmed or rejected", "decision"),
    "ck_enterprise_claim_decision": ("a decided claim records when, by whom and why it was "
                                     "decided; a pending claim records none of these", "reason"),
    "uq_emission_factor_code_version": ("this factor version is already published; give the new "
                                        "values a new version", "version", "factor-version-exists"),
    "ck_emission_factor_validity": ("a factor version's valid_to is its last valid day and "
                                    "cannot come before its valid_from", "valid_to"),
    "ck_emission_factor_scope": ("reports take scope 1 (direct) and scope 2 (purchased "
                                 "electricity or heat) factors only", "scope", "factor-scope"),
    "ck_emission_factor_category": ("a factor's category is energy, travel, accommodation, "
                                    "catering, materials or waste", "category"),
    "ex_emission_factor_one_live_version": ("another live version of this factor is valid on "
                                            "some of the same days (published at the same "
                                            "time?); publish it again", "valid_from",
                                            "factor-version-overlap"),
    "uq_carbon_report_revision": ("a report for this period was filed or revised by another "
                                  "request at the same time; read the current report and revise "
                                  "it if needed", "period", "report-filed-meanwhile"),
    "uq_carbon_report_current": ("a report for this period was filed or revised by another "
                                 "request at the same time; read the current report and revise "
                                 "it if needed", "period", "report-filed-meanwhile"),
    "fk_report_retirement_report": ("credits were retired against a report accounts never "
                                    "filed", "report_id"),
    "uq_green_trip_external_id": ("a trip with this external_id was recorded by another request "
                                  "at the same time", "external_id"),
    "ck_green_trip_duration_bounded": ("a trip lasts at most 12 hours", "ended_at"),
    "uq_points_entry_redemption_kind": ("this redemption's points were already held, settled or "
                                        "released", "redemption_id"),
    "uq_points_entry_redemption_outcome": ("this redemption is already settled or released",
                                           "redemption_id"),
    "ck_points_account_balance_not_negative": ("a points balance cannot go below zero", "points",
                                               "insufficient-points"),
    "ck_points_account_held_within_balance": ("not enough points available: points on hold "
                                              "cannot exceed the balance", "points",
                                              "insufficient-points"),
    "ck_points_entry_points_positive": ("a ledger entry moves a positive number of points",
                                        "points"),
    "ck_points_entry_balance_after_not_negative": ("a points balance cannot go below zero",
                                                   "points", "insufficient-points"),
    "ck_points_entry_held_after_within_balance": ("not enough points available: points on hold "
                                                  "cannot exceed the balance", "points",
                                                  "insufficient-points"),
    "ck_daily_points_within_cap": ("the day's points cap was reached by other trips recorded at "
                                   "the same time; send the trip again to have it capped", "trip"),
    "ck_redemption_points_positive": ("a redemption holds a positive number of points", "points"),
    "ck_redemption_quantity_positive": ("a redemption buys at least one whole credit", "points"),
    "ck_redemption_kg_units": ("a redemption buys a positive number of 10 kg units", "points"),
    "uq_points_entry_expiry": ("these points were expired by another run at the same time; "
                               "nothing was expired twice", "points"),
    "ck_points_entry_expiry_key": ("an expiry entry, and only one, names the expired total it "
                                   "was computed from", "points"),
}

describe_constraints(ACCOUNTS_CONSTRAINTS)
