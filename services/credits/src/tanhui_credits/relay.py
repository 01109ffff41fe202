from tanhui_shared.service import relay_main

from .settings import get_settings

if __name__ == "__main__":
    relay_main(get_settings())
