"""credits' outbox relay; each pass also runs the audit sequencer, so an entry whose own
after-commit sequencing found the sequencer busy is chained within one idle poll."""
from tanhui_shared.service import relay_main

from .settings import get_settings
from .store.audit import chain_pending

if __name__ == "__main__":
    relay_main(get_settings(), each_pass=chain_pending)
