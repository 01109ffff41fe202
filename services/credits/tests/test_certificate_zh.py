"""Issue 14: a certificate that works in Chinese. The PDF embeds a CJK font (its text extracts
back to the Chinese names), wraps long text inside the margins, and its QR code opens the
console's verification page; the published hash recipe recomputes content_hash."""
from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pypdfium2
import pytest
import zxingcpp

from tanhui_shared.settings import REPO_ROOT

BENEFICIARY = "四川省南充市嘉陵区龙泉山生态文化旅游节组委会"
PROJECT = "嘉陵江流域退化林地造林碳汇项目"
PURPOSE = ("抵消 2025 年南充国际马拉松赛事（含运动员交通、住宿、餐饮与场馆用电）的全部温室气体"
           "排放，实现大型活动碳中和 / offsetting every greenhouse-gas emission of the 2025 "
           'Nanchong International Marathon, "travel, lodging, catering and venue power" \\ all')
SHOT = REPO_ROOT / ".var" / "screenshots" / "certificate-zh.png"
A4_WIDTH, MARGIN = 595.2756, 56.6929  # points: 210 mm and 20 mm


@pytest.fixture(scope="module")
def issued(world) -> dict:  # noqa: ANN001
    """A retirement across three blocks of three projects, the first named in Chinese."""
    organizer = world.user("organizer")
    chinese = world.verified(organizer, 40, project_number=1601)
    assert world.deliver(chinese.model_copy(update={"project_name": PROJECT})) == "applied"
    world.issue(organizer, 30, project_number=1602)
    world.issue(organizer, 30, project_number=1603)
    reply = world.http.post("/api/v1/retirements", headers=organizer.headers, json={
        "quantity": 95, "beneficiary": BENEFICIARY, "purpose": PURPOSE})
    assert reply.status_code == 201, reply.text
    return reply.json()


def test_the_hash_recipe_recomputes_content_hash_from_the_public_json_alone(world, issued):
    raw = world.http.get(f"/api/v1/certificates/{issued['certificate_id']}").content
    public = json.loads(raw)
    recipe = public["hash_recipe"]
    # what the recipe says, done with the standard library only
    left_out = ("content_hash", "hash_recipe", "json_url", "pdf_url", "verification_url")
    assert all(key in recipe for key in left_out)
    assert "sorted" in recipe and "separators ',' and ':'" in recipe and "UTF-8" in recipe
    certified = {key: value for key, value in public.items() if key not in left_out}
    text = json.dumps(certified, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(text.encode("utf-8")).hexdigest() == public["content_hash"]
    assert '"beneficiary":"' + BENEFICIARY + '"' in text  # Chinese as itself, not \u escapes
    assert '\\"travel' in text and "\\\\ all" in text  # only '"' and '\' escaped
    tampered = text.replace('"quantity":95', '"quantity":96')
    assert tampered != text and hashlib.sha256(tampered.encode()).hexdigest() != \
        public["content_hash"]
    assert public["verification_url"] == \
        f"http://127.0.0.1:8000/console/#/verify/{issued['certificate_id']}"


def test_the_pdf_embeds_a_chinese_font_wraps_inside_the_margins_and_its_qr_opens_the_console(world, issued):
    reply = world.http.get(f"/api/v1/certificates/{issued['certificate_id']}/pdf")
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/pdf"
    document = pypdfium2.PdfDocument(io.BytesIO(reply.content))
    assert len(document) == 1
    page = document[0]
    textpage = page.get_textpage()
    text = textpage.get_text_range()
    flat = "".join(text.split())  # wrapped lines join back without their breaks
    assert BENEFICIARY in flat and PROJECT in flat
    assert "受益方" in flat and "Beneficiary" in flat and issued["content_hash"] in flat
    assert "".join(PURPOSE.split()) in flat
    for serial in issued["serials"]:
        assert serial in flat
    # every character inside the 20 mm margins (a long purpose used to run off the page)
    boxes = [textpage.get_charbox(i) for i in range(textpage.count_chars())]
    assert boxes and all(MARGIN - 1 <= left and right <= A4_WIDTH - MARGIN + 1
                         for left, _, right, _ in boxes if right > left)
    image = page.render(scale=3).to_pil()
    decoded = [barcode.text for barcode in zxingcpp.read_barcodes(image)]
    assert decoded == [f"http://127.0.0.1:8000/console/#/verify/{issued['certificate_id']}"]
    SHOT.parent.mkdir(parents=True, exist_ok=True)
    page.render(scale=1.6).to_pil().save(SHOT)  # looked at by people (issue 14's note)


def test_without_its_font_the_pdf_answers_503_naming_the_debian_package(world, issued):
    settings = world.app.state.settings
    world.app.state.settings = settings.model_copy(
        update={"certificate_font_path": str(Path("/nonexistent/wqy-microhei.ttc"))})
    try:
        reply = world.http.get(f"/api/v1/certificates/{issued['certificate_id']}/pdf")
    finally:
        world.app.state.settings = settings
    assert reply.status_code == 503
    assert "fonts-wqy-microhei" in reply.json()["detail"]
    assert world.http.get(f"/api/v1/certificates/{issued['certificate_id']}").status_code == 200


def test_a_certificate_longer_than_a_page_goes_on_over_the_next_inside_the_margins():
    """No database: the renderer alone, with 150 one-credit serial ranges and a 400-character
    purpose in Chinese (no spaces to break at)."""
    from tanhui_credits.api.certificate_pdf import render_certificate
    from tanhui_credits.settings import CreditsSettings

    view = {"certificate_id": "c-long", "retirement_id": "r-long", "beneficiary": BENEFICIARY,
            "purpose": "碳" * 400, "quantity": 150, "retired_at": "2025-12-31T00:00:00+00:00",
            "projects": [{"project_number": 7, "project_name": PROJECT, "vintage": 2025,
                          "quantity": 150}],
            "serials": [f"NC-FS-0007-2025-{i:09d}-{i:09d}" for i in range(1, 300, 2)],
            "content_hash": "0" * 64, "verification_url": "http://h/console/#/verify/c-long",
            "json_url": "http://h/api/v1/certificates/c-long"}
    # The font settings as the service reads them; the database is never opened here.
    settings = CreditsSettings(env="test", database_url="postgresql+psycopg://unused@127.0.0.1/unused")
    pdf = render_certificate(view, settings.certificate_font_path, settings.certificate_font_index)
    document = pypdfium2.PdfDocument(io.BytesIO(pdf))
    assert len(document) >= 2
    texts = []
    for page in document:
        textpage = page.get_textpage()
        texts.append("".join(textpage.get_text_range().split()))
        boxes = [textpage.get_charbox(i) for i in range(textpage.count_chars())]
        assert all(MARGIN - 1 <= left and right <= A4_WIDTH - MARGIN + 1 and bottom >= MARGIN - 1
                   for left, bottom, right, _ in boxes if right > left)
    assert "碳" * 400 in texts[0] and "Certificatec-long" in texts[1]  # continuation header
    assert all(serial in "".join(texts) for serial in view["serials"])
