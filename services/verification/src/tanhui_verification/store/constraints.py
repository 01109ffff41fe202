"""What each named constraint of verification's schema means to a user.

A write that a constraint refuses (because a code path forgot a check, or two requests raced
past it) answers 409 with this sentence and the field, through the one mapping in tanhui_shared.
The schema test checks that every constraint in a migrated database is listed here.
"""
from __future__ import annotations

from tanhui_shared.errors import Described, describe_constraints

# name -> (sentence, field[, problem code]); without a code, the kind's (tanhui_shared.errors)
CONSTRAINTS: dict[str, Described] = {
    # project
    "project_project_number_key": ("this registry number belongs to another project",
                                   "project_number"),
    "ux_project_active_certificate": ("this forest-rights certificate (compared without spaces, "
                                      "case, full-width or invisible characters) is already "
                                      "used by another active project",
                                      "forest_rights_certificate", "certificate-in-use"),
    "ck_project_certificate_key": ("the forest-rights certificate number has no visible "
                                   "characters", "forest_rights_certificate", "certificate-empty"),
    "ck_project_state": ("not a project state", "state"),
    "ck_project_kind": ("not a project kind (forest_management has no current CCER methodology: "
                        "only projects filed before it remain)", "kind"),
    "ck_project_vegetation": ("vegetation is tree, bamboo or shrub", "vegetation"),
    "ck_project_ccer_eligibility": ("a CCER-14-001-V01 project's land was non-forest for at "
                                    "least 3 years before the start, has parcels of at least "
                                    "400 m2, is no wetland, is not cleared by burning, and its "
                                    "crediting period is 20 to 40 years", "non_forest_since"),
    "ck_project_area": ("area_ha must be greater than 0 and at most 100,000 ha", "area_ha"),
    "ck_project_crediting_window": ("the crediting period starts between 1990-01-01 and "
                                    "2100-12-31 and lasts 1 to 100 years", "crediting_start"),
    "ck_project_buffer_pct": ("buffer_pct must be between 10 and 30 %", "buffer_pct"),
    "ck_project_registration": ("a registered project, and only a registered one, has a registry "
                                "number, a buffer, an approver and a registration time", "state"),
    # project_timeline
    "project_timeline_project_id_fkey": ("no such project", "project_id"),
    "project_timeline_monitoring_report_id_fkey": ("no such monitoring report", "report_id"),
    "ux_project_timeline_decided": ("the project's review was already decided (registered or "
                                    "rejected)", "state"),
    "ux_project_timeline_credits_issued": ("credits were already issued for this monitoring "
                                           "report", "issuance_id"),
    "project_timeline_accreditation_id_fkey": ("no such accreditation", "accreditation_id"),
    "ck_project_timeline_accreditation": ("a verifier's decision, and only a verifier's, names "
                                          "the accreditation it was made under",
                                          "accreditation_id"),
    # monitoring_report
    "monitoring_report_project_id_fkey": ("no such project", "project_id"),
    "monitoring_report_issuance_id_key": ("this issuance id belongs to another monitoring report",
                                          "issuance_id"),
    "ck_monitoring_period": ("period_end must be after period_start", "period_end"),
    "ck_monitoring_claim_nonzero": ("the net (project sink - baseline sink - leakage) must not "
                                    "be zero", "project_sink_tco2e"),
    "ck_monitoring_report_state": ("not a monitoring report state", "state"),
    "ck_monitoring_figures": ("sinks and leakage are not negative, and the claim is project sink "
                              "- baseline sink - leakage", "project_sink_tco2e"),
    "ck_monitoring_verified_quantity": ("verified_tco2e must be greater than 0 and at most the "
                                        "claim, or for a reversal less than 0",
                                        "verified_tco2e"),
    "ck_monitoring_verified_state": ("a verified or issued report, and only such a report, has "
                                     "verified_tco2e, and an issuance id unless it is a reversal",
                                     "state"),
    "ck_monitoring_issued_state": ("an issued report, and only an issued one, has its credits, "
                                   "serials and issue time", "state"),
    "ck_monitoring_issued_quantities": ("issued and buffer quantities are not negative",
                                        "issued_quantity"),
    "ex_monitoring_report_period": ("the period overlaps another reported period of this project",
                                    "period_start", "period-overlap"),
    "project_timeline_loss_event_id_fkey": ("no such loss event", "loss_id"),
    # loss_event
    "loss_event_project_id_fkey": ("no such project", "project_id"),
    "loss_event_monitoring_report_id_fkey": ("no such monitoring report", "report_id"),
    "loss_event_accreditation_id_fkey": ("no such accreditation", "accreditation_id"),
    "loss_event_monitoring_report_id_key": ("this reversal was already recorded as a loss",
                                            "report_id"),
    "ck_loss_event_cause": ("a loss is caused by fire, pests, logging or other, or is a "
                            "verified reversal with its report", "cause"),
    "ck_loss_event_state": ("not a loss event state", "state"),
    "ck_loss_event_figures": ("a loss has a positive area and estimate", "estimated_tco2e"),
    "ck_loss_event_decided": ("a decided loss, and only a decided one, names its verifier and "
                              "accreditation", "state"),
    "ck_loss_event_verified": ("a confirmed loss, and only a confirmed one, has a verified "
                               "quantity greater than 0", "verified_tco2e"),
    "ck_loss_event_compensated": ("a compensated loss, and only a compensated one, has the "
                                  "registry's compensation", "state"),
    "ck_loss_event_compensation_split": ("pool, developer and shortfall add up to the credits "
                                         "required, none negative", "shortfall"),
    # verification
    "verification_monitoring_report_id_key": ("this monitoring report already has a verification "
                                              "decision", "report_id"),
    "verification_monitoring_report_id_fkey": ("no such monitoring report", "report_id"),
    "ck_verification_decision": ("a decision is verified, with a non-zero verified_tco2e, or "
                                 "rejected, without it", "decision"),
    "verification_accreditation_id_fkey": ("no such accreditation", "accreditation_id"),
    "ck_verification_accreditation": ("a verification decision names the accreditation it was "
                                      "made under", "accreditation_id"),
    # verifier_accreditation
    "ck_verifier_accreditation_grant": ("a grant has its verifier, organisation, number, "
                                        "validity and time, all together", "accreditation_id"),
    "ck_verifier_accreditation_validity": ("an accreditation's valid_to is not before its "
                                           "valid_from", "valid_to", "validity-reversed"),
    "ck_verifier_accreditation_revocation": ("a revocation has its time and its reason",
                                             "revoked_at"),
    "ck_verifier_accreditation_recorded": ("an accreditation row records a grant or a "
                                           "revocation", "accreditation_id"),
    # document
    "document_project_id_fkey": ("no such project", "project_id"),
    "document_monitoring_report_id_fkey": ("no such monitoring report", "report_id"),
    "ck_document_sha256": ("sha256 must be 64 lowercase hexadecimal characters", "sha256"),
    # registry_counter
    "ck_registry_counter_value": ("a registry counter is never negative", None),
}

describe_constraints(CONSTRAINTS)
