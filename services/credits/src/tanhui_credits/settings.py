from __future__ import annotations

from functools import lru_cache

from pydantic import model_validator

from tanhui_shared.settings import ServiceSettings

LOCAL_GATEWAY = "http://127.0.0.1:8000"  # `make up`'s gateway: the default outside production


class CreditsSettings(ServiceSettings):
    service_name: str = "credits"
    # Where certificates can be checked by anyone: the QR code on each certificate points here,
    # so production must name it (a default would print a laptop's address on every PDF).
    public_base_url: str | None = None
    # The certificate PDF's font, embedded (a subset) in every PDF: it must have Chinese glyphs.
    # Default: WenQuanYi Micro Hei from Debian's fonts-wqy-microhei, a TrueType collection whose
    # face 0 is the proportional one (face 1 is its monospaced variant).
    certificate_font_path: str = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
    certificate_font_index: int = 0

    @model_validator(mode="after")
    def _public_address(self) -> "CreditsSettings":
        if not self.public_base_url:
            if self.env == "production":
                raise ValueError(
                    "TANHUI_PUBLIC_BASE_URL must be set in production: the https address citizens "
                    "reach the gateway at (e.g. https://tanhui.example.cn); certificates' QR codes "
                    "and links point there")
            self.public_base_url = LOCAL_GATEWAY
        if not self.public_base_url.startswith(("http://", "https://")):
            raise ValueError(f"TANHUI_PUBLIC_BASE_URL must be an http(s) URL, not {self.public_base_url!r}")
        self.public_base_url = self.public_base_url.rstrip("/")
        return self


@lru_cache
def get_settings() -> CreditsSettings:
    return CreditsSettings()
