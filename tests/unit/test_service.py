import pytest
from fastapi.testclient import TestClient

from mtqa.service import create_app


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app(only=["boilerplate", "ocr"]))


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


@pytest.mark.parametrize("body, status", [({"text": "  "}, 400), ({}, 422), ({"text": "a", "html": "b"}, 422)])
def test_v1_bad_requests(client, body, status):
    response = client.post("/v1/check", json=body)
    assert response.status_code == status


def test_v2_is_languagetool_shaped_with_utf16_offsets(client):
    response = client.post("/v2/check", data={"text": "😀 tHe end", "language": "en-US"})
    [match] = response.json()["matches"]
    assert (match["offset"], match["length"]) == (3, 3)
    assert match["rule"]["id"] == "ocr.mixed_case" and match["replacements"] == [{"value": "the"}]
    assert client.post("/v2/check", data={"text": "x", "language": "de-DE"}).status_code == 400
    assert client.get("/v2/languages").json()[0]["longCode"] == "en-US"
