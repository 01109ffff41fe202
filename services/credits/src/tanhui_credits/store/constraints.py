"""What each named constraint of the registry means to a user: a violation answers 409 with this
sentence (tanhui_shared.errors maps it), whichever code path forgot to check first."""
from __future__ import annotations

from tanhui_shared.errors import describe_constraints

QUANTITY = "quantity"

describe_constraints({
    "ex_block_live_serials": ("these serials are already in another live block: the credits "
                              "were moved or retired by a concurrent request; nothing was "
                              "written", None, "credits-moved-meanwhile"),
    "ck_block_range": ("a serial block must be a non-empty range of positive serials", None),
    "ck_block_status": ("a serial block is active, retired, superseded or cancelled", None),
    "ck_block_compensation": ("cancelled serial blocks, and only they, compensate a loss", None),
    "fk_block_compensation": ("serial blocks are cancelled only for a recorded compensation",
                              None),
    "buffer_compensation_pkey": ("this loss was already compensated", "loss_id"),
    "ck_buffer_compensation_split": ("a compensation's pool, developer and shortfall add up to "
                                     "the credits required, none negative", QUANTITY),
    "ck_buffer_compensation_loss": ("a compensated loss is greater than zero", "verified_tco2e"),
    "ck_block_closed": ("a closed serial block must name the movement that closed it", None),
    "ck_block_retirement": ("retired serial blocks, and only they, belong to a retirement", None),
    "fk_block_account": ("serial blocks can only be held by an open holding account", None),
    "fk_block_listing": ("serial blocks can only be reserved for an existing listing", None),
    "serial_block_issuance_id_fkey": ("serial blocks come from a recorded issuance", None),
    "serial_block_parent_block_id_fkey": ("a split block's parent must exist", None),
    "issuance_pkey": ("this issuance was already recorded", None),
    "uq_issuance_monitoring_report": ("this monitoring report was already issued",
                                      "monitoring_report_id", "already-issued"),
    "ck_issuance_quantities": ("issued quantities cannot be negative", QUANTITY),
    "ck_issuance_serials": ("an issuance's serials must match its quantities", None),
    "ck_serial_counter_next": ("serial numbers start at 1", None),
    "retirement_redemption_id_key": ("this redemption was already settled", "redemption_id"),
    "ck_retirement_quantity": ("a retirement must retire at least one credit", QUANTITY),
    "certificate_retirement_id_key": ("this retirement already has its certificate", None),
    "uq_certificate_retirement": ("this retirement already has its certificate", None),
    "uq_certificate_redemption": ("this redemption already has its certificate",
                                  "redemption_id"),
    "pooled_redemption_pkey": ("this redemption was already received", "redemption_id"),
    "ck_pooled_redemption_kg": ("a redemption asks for a positive number of 10 kg units",
                                "kg"),
    "ck_pooled_redemption_state": ("a redemption is either completed, with its certificate, "
                                   "or rejected, with its reason", None),
    "uq_pooled_redemption_id_kg": ("this redemption was already received", "redemption_id"),
    "ck_pool_share_serial_range": ("a share lies within its serial's 1,000 kg", None),
    "ck_pool_share_own_range": ("a share lies within its redemption's kg", None),
    "ck_pool_share_same_kg": ("a share gives a redemption as many kg as it takes from a "
                              "serial", None),
    "ex_pool_share_serial_kg": ("these kg of a retired serial were already given to a "
                                "redemption: nothing is shared out twice", None),
    "ex_pool_share_redemption_kg": ("these kg of the redemption were already covered: nothing "
                                    "is retired twice for one redemption", "redemption_id"),
    "fk_pool_share_redemption": ("a share belongs to a received redemption of that size", None),
    "fk_pool_share_retirement": ("a share is part of a recorded retirement", None),
    "redemption_pkey": ("this redemption was already settled", "redemption_id"),
    "ck_redemption_quantity": ("a redemption must ask for at least one credit", QUANTITY),
    "ck_redemption_status": ("a redemption is completed or rejected", None),
    "ck_listing_quantity": ("a listing must offer at least one credit", QUANTITY),
    "ck_listing_remaining": ("a listing cannot sell more than it has left", QUANTITY,
                             "listing-exhausted"),
    "ck_listing_status": ("a listing is open, sold out or cancelled", None),
    "ck_listing_open": ("a listing is open exactly while it has credits left", None),
    "uq_listing_quantity": ("a listing has one quantity", None),
    "listing_stock_pkey": ("a listing has one stock", "listing_id"),
    "fk_listing_stock_listing": ("a stock counts down an existing listing's own quantity",
                                 None),
    "ck_payment_quantity": ("a payment must be for at least one credit", QUANTITY),
    "ck_listing_purchase_quantity": ("a purchase must buy at least one credit", QUANTITY),
    "ck_listing_purchase_total": ("a purchase's total is its quantity times the listing's "
                                  "price", None),
    "ck_listing_purchase_parties": ("a seller cannot buy from its own listing: cancel it "
                                    "instead", "listing_id", "own-listing"),
    "fk_listing_purchase_listing": ("credits can only be bought from an existing listing",
                                    "listing_id"),
    "fk_listing_purchase_buyer": ("credits can only be bought into an open holding account",
                                  None),
    "ck_large_event_dates": ("an event cannot end before it starts", "end_date"),
    "fk_event_accounting_event": ("actual data can only be filed for a registered event", None),
    "uq_event_accounting_revision": ("another filing of this event's actual data was made at "
                                     "the same time; read the event and file again if needed",
                                     None),
    "ck_event_accounting_revision": ("a post-event accounting revision starts at 1", None),
    "ck_event_accounting_total": ("an event's final figure cannot be negative", None),
    "holding_account_owner_user_id_key": ("this user already has a holding account", None),
    "registry_project_project_number_key": ("this registry project number belongs to another "
                                            "project", "project_number"),
    "uq_filed_report_current": ("another revision of this report's period became current at "
                                "the same time; nothing was written", "report_id"),
})
