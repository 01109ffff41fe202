"""A retirement certificate as a PDF: every certified field, the hash, and a QR code to check it."""
from __future__ import annotations

import io
from typing import Any

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

_LABELS = (("certificate_id", "Certificate"), ("beneficiary", "Beneficiary"),
           ("purpose", "Purpose"), ("quantity", "Quantity (tCO2e)"),
           ("retired_at", "Retired at"), ("retirement_id", "Retirement"),
           ("report_id", "Report"), ("event_id", "Large event"),
           ("redemption_id", "Redemption"))


def render_certificate(view: dict[str, Any]) -> bytes:
    """`view` is the public certificate JSON (fields + content_hash + verification_url)."""
    buffer = io.BytesIO()
    pdf = Canvas(buffer, pagesize=A4)
    width, height = A4
    pdf.setTitle(f"Retirement certificate {view['certificate_id']}")
    pdf.setFont("Helvetica-Bold", 18)
    pdf.drawString(20 * mm, height - 25 * mm, "Forestry carbon sink credits: retirement certificate")
    y = height - 40 * mm

    def line(label: str, value: Any, font: str = "Helvetica", size: int = 10) -> None:
        nonlocal y
        pdf.setFont("Helvetica-Bold", size)
        pdf.drawString(20 * mm, y, f"{label}:")
        pdf.setFont(font, size)
        pdf.drawString(62 * mm, y, str(value))
        y -= 6 * mm

    for key, label in _LABELS:
        if view.get(key) is not None:
            line(label, view[key])
    for project in view["projects"]:
        line("Project", f"{project['project_number']:04d} {project['project_name']} "
             f"(vintage {project['vintage']}, {project['quantity']} t)")
    for serial in view["serials"]:
        line("Serials", serial, font="Courier")
    y -= 4 * mm
    line("Content hash", "", size=9)
    pdf.setFont("Courier", 8)
    pdf.drawString(20 * mm, y, f"sha256 {view['content_hash']}")
    y -= 6 * mm
    line("Verify at", view["verification_url"], size=9)

    qr = QrCodeWidget(view["verification_url"])
    left, bottom, right, top = qr.getBounds()
    size = 60 * mm
    drawing = Drawing(size, size, transform=[size / (right - left), 0, 0, size / (top - bottom),
                                             0, 0])
    drawing.add(qr)
    renderPDF.draw(drawing, pdf, 20 * mm, max(y - size - 10 * mm, 15 * mm))
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()
