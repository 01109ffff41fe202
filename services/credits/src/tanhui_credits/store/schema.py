"""credits' schema source: its table models plus the shared tables it uses (Alembic's target)."""
from tanhui_shared.messaging.outbox import InboxEntry, OutboxMessage
from tanhui_shared.schema import with_shared_tables
from tanhui_shared.web.idempotency import IdempotencyRecord
from tanhui_shared.web.trusted_keys import TrustedSigningKey

from . import market_tables  # noqa: F401 - registers the market tables in CreditsTable.metadata
from . import pool_tables  # noqa: F401 - registers the pooled-redemption tables
from . import totals  # noqa: F401 - the registry totals' rollup and its triggers
from . import audit, blocks  # noqa: F401 - the hot path's functions (sequencer, debit lock)
from .tables import CreditsTable

METADATA = with_shared_tables(CreditsTable.metadata, OutboxMessage, InboxEntry, IdempotencyRecord,
                              TrustedSigningKey)
