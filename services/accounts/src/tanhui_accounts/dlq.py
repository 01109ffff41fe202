"""`python -m tanhui_accounts.dlq list | show ID | replay ID... | replay --all`: the accounts consumer
group's dead letters (tanhui_shared/messaging/dlq.py)."""
import sys

from tanhui_shared.service import dlq_main

from .events.handlers import HANDLERS, TOPICS
from .settings import get_settings

if __name__ == "__main__":
    sys.exit(dlq_main(get_settings(), TOPICS, HANDLERS))
