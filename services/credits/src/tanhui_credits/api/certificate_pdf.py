"""A retirement certificate as a PDF: every certified field with bilingual labels, in a CJK font
embedded in the file, text wrapped inside the margins, the hash and its recipe, and a QR code
of the console's verification page."""
from __future__ import annotations

import io
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from ..domain.hashing import HASH_RECIPE_LINE

FONT_PACKAGE = "fonts-wqy-microhei"  # Debian's package of the default font (settings.py)
MONO = "Courier"  # hashes and the recipe: ASCII only, and a fixed width reads best
WIDTH, HEIGHT = A4
MARGIN = 20 * mm
LABEL_WIDTH = 44 * mm  # "Quantity (tCO2e)" and its Chinese label fit at 9 pt
VALUE_X = MARGIN + LABEL_WIDTH
VALUE_WIDTH = WIDTH - MARGIN - VALUE_X
QR_SIZE = 45 * mm

_LABELS = (("certificate_id", "证书编号", "Certificate"), ("beneficiary", "受益方", "Beneficiary"),
           ("purpose", "用途", "Purpose"), ("quantity", "数量（吨二氧化碳当量）", "Quantity (tCO2e)"),
           ("retired_at", "注销时间", "Retired at"), ("retirement_id", "注销编号", "Retirement"),
           ("report_id", "企业报告", "Report"), ("event_id", "大型活动", "Large event"),
           ("redemption_id", "碳普惠兑换", "Redemption"))
# one CJK ideograph or fullwidth form per token (a line may break between any two of them),
# else a run of other non-space characters, else spaces
_TOKENS = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef]"
                     r"|[^\s\u2e80-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef]+|\s+")


class CertificateFontMissing(RuntimeError):
    pass


@lru_cache
def register_font(path: str, index: int) -> str:
    """Register the TrueType font (a collection's `index`-th face) once per process; reportlab
    embeds the subset of glyphs each PDF uses."""
    if not Path(path).is_file():
        raise CertificateFontMissing(
            f"the certificate font {path} is missing: install Debian's {FONT_PACKAGE} "
            f"(apt-get install {FONT_PACKAGE}) or set TANHUI_CERTIFICATE_FONT_PATH to a "
            "TrueType font with Chinese glyphs")
    name = f"certificate-font-{index}-{Path(path).stem}"
    pdfmetrics.registerFont(TTFont(name, path, subfontIndex=index))
    return name


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Greedy line breaking inside `width`: between words, between any two CJK characters, and
    inside a word too long for a line of its own (serial ranges, ids)."""
    def fits(candidate: str) -> bool:
        return pdfmetrics.stringWidth(candidate, font, size) <= width

    lines: list[str] = []
    for paragraph in str(text).split("\n"):
        line = ""
        for token in _TOKENS.findall(paragraph):
            if token.isspace():
                line = line + " " if line else line
                continue
            if fits(line + token):
                line += token
                continue
            if line.strip():
                lines.append(line.rstrip())
            line = ""
            for char in token:  # a token wider than a whole line is cut where it must be
                if not fits(line + char) and line:
                    lines.append(line)
                    line = ""
                line += char
        lines.append(line.rstrip())
    return lines


class _Page:
    """A cursor down the page that starts a new page when the next lines would not fit."""

    def __init__(self, pdf: Canvas, font: str, certificate_id: str) -> None:
        self.pdf, self.font, self.y, self.number = pdf, font, HEIGHT - MARGIN, 1
        self.certificate_id = certificate_id

    def room(self, height: float) -> None:
        if self.y - height < MARGIN:
            self.pdf.showPage()
            self.y, self.number = HEIGHT - MARGIN, self.number + 1
            # which certificate a loose continuation page belongs to
            self.pdf.setFillGray(0.35)
            self.pdf.setFont(self.font, 8)
            self.pdf.drawString(MARGIN, self.y - 8, f"证书编号 / Certificate {self.certificate_id}"
                                f"（第 {self.number} 页，续 / continued, page {self.number}）")
            self.pdf.setFillGray(0)
            self.y -= 8 + 6 * mm

    def field(self, zh: str, en: str, value: Any, *, font: str | None = None,
              size: float = 9.5) -> None:
        """A bilingual label on the left, the value wrapped on the right; a value longer than
        the page goes on over the next one."""
        label_lead, lead = 8 * 1.4, size * 1.45
        labels = wrap(f"{zh} / {en}", self.font, 8, LABEL_WIDTH - 3 * mm)
        values = wrap(str(value), font or self.font, size, VALUE_WIDTH)
        self.room(max(len(labels) * label_lead, min(len(values), 3) * lead))
        self.pdf.setFillGray(0.35)
        self.pdf.setFont(self.font, 8)
        for i, text in enumerate(labels):
            self.pdf.drawString(MARGIN, self.y - 8 - i * label_lead, text)
        self.pdf.setFillGray(0)
        bottom, number = self.y - len(labels) * label_lead, self.number
        for text in values:
            self.room(lead)
            self.pdf.setFont(font or self.font, size)
            self.pdf.drawString(VALUE_X, self.y - size, text)
            self.y -= lead
        # below the label too, unless the value went on over another page
        self.y = (min(self.y, bottom) if self.number == number else self.y) - 2.2 * mm


def _fitted_size(text: str, font: str, largest: float, width: float) -> float:
    """The largest size up to `largest` at which `text` fits `width` on one line."""
    return min(largest, largest * width / pdfmetrics.stringWidth(text, font, largest))


def render_certificate(view: dict[str, Any], font_path: str, font_index: int = 0) -> bytes:
    """`view` is the public certificate JSON (fields, content_hash, hash_recipe, the urls)."""
    font = register_font(font_path, font_index)
    buffer = io.BytesIO()
    pdf = Canvas(buffer, pagesize=A4)
    pdf.setTitle(f"碳汇减排量注销证明 / Retirement certificate {view['certificate_id']}")
    page = _Page(pdf, font, view["certificate_id"])
    pdf.setFont(font, 18)
    pdf.drawString(MARGIN, page.y - 18, "林业碳汇减排量注销证明")
    pdf.setFont(font, 12)
    pdf.drawString(MARGIN, page.y - 36, "Forestry carbon sink credits: retirement certificate")
    page.y -= 36 + 10 * mm

    for key, zh, en in _LABELS:
        if view.get(key) is not None:
            page.field(zh, en, view[key])
    for project in view["projects"]:
        page.field("项目", "Project", f"{project['project_number']:04d} {project['project_name']}"
                   f"（{project['vintage']} 年度 / vintage {project['vintage']}，"
                   f"{project['quantity']} t）")
    page.field("序列号", "Serials", "\n".join(view["serials"]), font=MONO, size=9)
    page.field("内容哈希", "Content hash (sha256)", view["content_hash"], font=MONO, size=8.5)
    page.field("哈希算法", "Hash recipe", "c = 本证书 JSON 去掉 content_hash、hash_recipe 与 *_url 键 "
               "/ this certificate's JSON less content_hash, hash_recipe and the *_url keys")
    page.room(12)
    size = _fitted_size(HASH_RECIPE_LINE, MONO, 8, WIDTH - 2 * MARGIN)
    pdf.setFont(MONO, size)
    pdf.drawString(MARGIN, page.y - size, HASH_RECIPE_LINE)  # one line, as a third party types it
    page.y -= size + 6 * mm

    page.room(QR_SIZE + 4 * mm)
    qr = QrCodeWidget(view["verification_url"], barBorder=2)
    left, bottom, right, top = qr.getBounds()
    drawing = Drawing(QR_SIZE, QR_SIZE, transform=[QR_SIZE / (right - left), 0, 0,
                                                   QR_SIZE / (top - bottom), 0, 0])
    drawing.add(qr)
    renderPDF.draw(drawing, pdf, MARGIN, page.y - QR_SIZE)
    text_x, text_width = MARGIN + QR_SIZE + 6 * mm, WIDTH - 2 * MARGIN - QR_SIZE - 6 * mm
    y = page.y - 4 * mm
    for label, url in (("扫码核验 / Scan to verify", view["verification_url"]),
                       ("JSON", view["json_url"])):
        pdf.setFont(font, 9)
        pdf.drawString(text_x, y, label)
        y -= 5 * mm
        size = max(_fitted_size(url, MONO, 8, text_width), 6.5)  # one line when legible
        for text in wrap(url, MONO, size, text_width):
            pdf.setFont(MONO, size)
            pdf.drawString(text_x, y, text)
            y -= 4.2 * mm
        y -= 2 * mm
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()
