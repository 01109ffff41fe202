from __future__ import annotations

from functools import lru_cache

from tanhui_shared.settings import ServiceSettings


class CreditsSettings(ServiceSettings):
    service_name: str = "credits"
    # Where certificates can be checked by anyone: the QR code on each certificate points here.
    public_base_url: str = "http://127.0.0.1:8000"
    # The certificate PDF's font, embedded (a subset) in every PDF: it must have Chinese glyphs.
    # Default: WenQuanYi Micro Hei from Debian's fonts-wqy-microhei, a TrueType collection whose
    # face 0 is the proportional one (face 1 is its monospaced variant).
    certificate_font_path: str = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
    certificate_font_index: int = 0


@lru_cache
def get_settings() -> CreditsSettings:
    return CreditsSettings()
