"""The service's endpoints and formats, through FastAPI's in-process client (no LM)."""

import json
import time

import pytest
from fastapi.testclient import TestClient

from mtqa.service import create_app


def wait_ready(client: TestClient, headers: dict | None = None, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while client.get("/ready", headers=headers or {}).status_code != 200:
        assert time.monotonic() < deadline, "service never became ready"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(only=["boilerplate", "ocr"])) as c:
        wait_ready(c)
        yield c


def test_v1_check_text(client):
    text = "👍 tHe army left.\n\nScroll to Continue"
    body = client.post("/v1/check", json={"text": text, "id": "a1"}).json()
    doc = body["document"]
    assert doc["id"] == "a1" and doc["verdict"] == "block"
    assert {f["text"] for f in doc["findings"]} == {"tHe", "Scroll to Continue"}
    assert all(f["text"] == text[f["start"] : f["end"]] for f in doc["findings"])
    assert body["mtqa"]["signature"]["text"].startswith("mtqa:")


def test_v1_check_html_offsets_point_into_html(client):
    html = "<p>The <b>MIlitary</b> left.</p>"
    [finding] = client.post("/v1/check", json={"html": html}).json()["document"]["findings"]
    assert html[finding["start"] : finding["end"]] == "MIlitary"


def test_v1_title_is_checked_with_its_own_offsets(client):
    body = client.post("/v1/check", json={"title": "Army left tHe city", "text": "The army left."}).json()["document"]
    assert body["findings"] == []
    [finding] = body["title"]["findings"]
    assert "Army left tHe city"[finding["start"] : finding["end"]] == "tHe"


@pytest.mark.parametrize(
    "body, status",
    [({"text": "  "}, 400), ({}, 422), ({"text": "a", "html": "b"}, 422), ({"text": "a", "extra": 1}, 422),
     ({"html": "<p> </p>"}, 400), ({"text": "a", "options": {"checkers": ["lm"]}}, 400),
     ({"text": "a", "options": {"names": "nope"}}, 400), ({"text": "a", "options": {"min_confidence": 2}}, 422)],
)  # fmt: skip
def test_v1_bad_requests_are_json_errors(client, body, status):
    response = client.post("/v1/check", json=body)
    assert response.status_code == status
    error = response.json()
    assert error["status"] == status and error["message"] and error["request_id"] == response.headers["x-request-id"]


def test_v1_options_pick_checkers_and_confidence(client):
    text = "tHe army left.\n\nScroll to Continue"
    only_ocr = client.post("/v1/check", json={"text": text, "options": {"checkers": ["ocr"]}}).json()
    assert [f["check"] for f in only_ocr["document"]["findings"]] == ["ocr.mixed_case"]
    assert list(only_ocr["mtqa"]["signature"]["checkers"]) == ["ocr"]
    everything = client.post("/v1/check", json={"text": text}).json()["document"]["findings"]
    cut = min(f["confidence"] for f in everything) + 1e-4
    fewer = client.post("/v1/check", json={"text": text, "options": {"min_confidence": cut}}).json()
    assert len(fewer["document"]["findings"]) == len(everything) - 1
    assert fewer["mtqa"]["signature"]["min_confidence"] == cut


def test_v2_is_languagetool_shaped_with_utf16_offsets(client):
    response = client.post("/v2/check", data={"text": "😀 tHe end", "language": "en-US"})
    [match] = response.json()["matches"]
    assert (match["offset"], match["length"]) == (3, 3)
    assert match["rule"]["id"] == "ocr.mixed_case" and match["replacements"][0] == {"value": "the"}
    assert response.json()["warnings"] == {"incompleteResults": False}
    assert client.post("/v2/check", data={"text": "x", "language": "de-DE"}).status_code == 400
    assert client.get("/v2/languages").json()[0]["longCode"] == "en-US"


def test_v2_annotated_text_skips_markup_and_offsets_count_it(client):
    data = {"annotation": [{"markup": "<p>"}, {"text": "😀 The "}, {"markup": "<b>"}, {"text": "MIlitary"},
                           {"markup": "</b>"}, {"text": " left."}, {"markup": "</p>", "interpretAs": "\n\n"},
                           {"text": "Scroll to Continue"}]}  # fmt: skip
    whole = "".join(part.get("text", part.get("markup")) for part in data["annotation"])
    matches = client.post("/v2/check", data={"data": json.dumps(data), "language": "en-US"}).json()["matches"]
    utf16 = whole.encode("utf-16-le")
    found = {utf16[2 * m["offset"] : 2 * (m["offset"] + m["length"])].decode("utf-16-le"): m["rule"]["id"] for m in matches}
    assert found == {"MIlitary": "ocr.mixed_case", "Scroll to Continue": "boilerplate.scroll_prompt"}
    for bad in ("{", '{"annotation": 3}', '{"annotation": [{"nothing": 1}]}', '{"annotation": [{"markup": "<p>"}]}'):
        assert client.post("/v2/check", data={"data": bad}).status_code == 400


def test_v2_rule_and_category_switches(client):
    text = "tHe army left.\n\nScroll to Continue"

    def rules(**fields):
        response = client.post("/v2/check", data={"text": text, "language": "en-US", **fields})
        assert response.status_code == 200, response.text
        return sorted(m["rule"]["id"] for m in response.json()["matches"])

    both = ["boilerplate.scroll_prompt", "ocr.mixed_case"]
    assert rules() == both
    assert rules(disabledRules="ocr.mixed_case") == ["boilerplate.scroll_prompt"]
    assert rules(disabledRules="scroll_prompt") == ["ocr.mixed_case"]  # LanguageTool-style id, no family
    assert rules(disabledCategories="OCR") == ["boilerplate.scroll_prompt"]
    assert rules(enabledRules="ocr.mixed_case", enabledOnly="true") == ["ocr.mixed_case"]
    assert rules(enabledCategories="BOILERPLATE", enabledOnly="true") == ["boilerplate.scroll_prompt"]
    assert rules(enabledRules="ocr.mixed_case") == both  # without enabledOnly every rule stays on
    assert client.post("/v2/check", data={"text": text, "enabledOnly": "true"}).status_code == 400


def test_v2_level_picky_reports_below_the_server_threshold():
    text = "tHe army left.\n\nScroll to Continue"
    with TestClient(create_app(only=["boilerplate", "ocr"])) as c:
        wait_ready(c)
        confidences = sorted(m["mtqa"]["confidence"] for m in c.post("/v2/check", data={"text": text}).json()["matches"])
    from mtqa.config import Settings

    settings = Settings(min_confidence=(confidences[0] + confidences[1]) / 2)
    with TestClient(create_app(settings, only=["boilerplate", "ocr"])) as c:
        wait_ready(c)
        assert len(c.post("/v2/check", data={"text": text}).json()["matches"]) == 1
        assert len(c.post("/v2/check", data={"text": text, "level": "picky"}).json()["matches"]) == 2


def test_info_models_and_metrics(client):
    info = client.get("/v2/info").json()
    assert info["software"]["name"] == "mtqa" and info["checkers"] == ["boilerplate", "ocr"]
    models = client.get("/v1/models").json()
    assert models["ready"] and models["checkers"] == ["boilerplate", "ocr"] and models["lm"] is False
    assert {m["name"] for m in models["models"]} >= {"gemma-3-270m", "smollm2-135m"}
    client.post("/v1/check", json={"text": "tHe end"})
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'mtqa_requests_total{endpoint="/v1/check",status="200"}' in text
    assert 'mtqa_findings_total{category="ocr"}' in text
    assert "mtqa_queue_depth 0.0" in text and "mtqa_request_seconds_bucket" in text and "mtqa_batch_documents_count" in text


def test_lone_surrogates_get_a_report_not_a_500(client):
    # JSON "\ud800" escapes decode to lone surrogates, which cannot be encoded as UTF-8.
    raw = b'{"text": "\\ud83d tHe army \\udc00left."}'
    response = client.post("/v1/check", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 200
    text = json.loads(raw)["text"]
    [finding] = response.json()["document"]["findings"]
    assert text[finding["start"] : finding["end"]] == "tHe"
    annotated = json.dumps({"annotation": [{"text": "\ud800 tHe"}, {"markup": "<br>", "interpretAs": "\n"}]})
    response = client.post("/v2/check", data={"data": annotated})
    assert response.status_code == 200 and response.json()["matches"][0]["offset"] == 2
    html = b'{"html": "<p>\\udfff tHe</p>"}'
    assert client.post("/v1/check", content=html, headers={"content-type": "application/json"}).status_code == 200


def test_review_page_and_its_files_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for asset in ("/static/review.js", "/static/review.css"):
        assert asset in page.text
        assert client.get(asset).status_code == 200
    assert "http://" not in page.text and "https://" not in page.text  # nothing from a CDN
    assert client.get("/docs").status_code == 404  # Swagger UI would load from a CDN


def test_house_name_lists_are_picked_per_request(tmp_path):
    from mtqa.config import Settings
    from mtqa.service import ServiceConfig

    desk_a = tmp_path / "desk_a.toml"
    desk_a.write_text('[[name]]\ncanonical = "Kupiansk"\nvariants = ["Kupjansk"]\npreferred = "Kupiansk"\n'
                      'kind = "place"\ncountry = "UA"\nregion = "UA.07"\nnote = "house style"\n')  # fmt: skip
    desk_b = tmp_path / "desk_b.csv"
    desk_b.write_text("canonical,variants,preferred,kind,note\nSyrskyi Group,Syrsky Group,,organisation,test\n")
    config = ServiceConfig(names_lists={"a": desk_a, "b": desk_b})
    text = "Troops entered Kupyansk. Later Kupiansk was quiet."
    with TestClient(create_app(Settings(use_lm=False), only=["names"], config=config)) as c:
        wait_ready(c)

        def checks(**options):
            body = c.post("/v1/check", json={"text": text, "options": options}).json()
            return {f["check"] for f in body["document"]["findings"]}

        assert "gazetteer.house_style" in checks()  # every list applies by default
        assert "gazetteer.house_style" in checks(names="a")
        assert "gazetteer.house_style" not in checks(names="b")
        assert c.get("/v1/models").json()["names_lists"] == ["a", "b"]
