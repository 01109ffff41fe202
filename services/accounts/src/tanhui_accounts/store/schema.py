"""accounts' schema source: its table models plus the shared tables it uses (Alembic's target)."""
from tanhui_shared.messaging.outbox import InboxEntry, OutboxMessage
from tanhui_shared.schema import with_shared_tables
from tanhui_shared.web.idempotency import IdempotencyRecord

from . import access_tables  # noqa: F401 - accreditations and OAuth clients join the metadata
from . import rollups  # noqa: F401 - the city figures' rollup tables and their triggers
from . import disclosure_keys  # noqa: F401 - the disclosures' sort keys and their triggers
from .tables import AccountsTable

METADATA = with_shared_tables(AccountsTable.metadata, OutboxMessage, InboxEntry, IdempotencyRecord)
