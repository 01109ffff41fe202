from tanhui_shared.service import consumer_main

from .events.handlers import HANDLERS, TOPICS
from .settings import get_settings

if __name__ == "__main__":
    consumer_main(get_settings(), TOPICS, HANDLERS)
