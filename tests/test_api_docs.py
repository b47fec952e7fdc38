"""/openapi.json and /docs: every result field, the contract examples, every error, no CDN."""

import re
from html.parser import HTMLParser

import pytest
from conftest import CONTRACT_SAMPLES, chromium_dump_dom, load_sample, serving

from intact.testtypes import TEST_TYPES

# The policy the app's pages are held to: scripts and styles only from this app.
STRICT_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'"
)


@pytest.fixture
def spec(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.json


def resolve(spec, node):
    while "$ref" in node:
        node = spec["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def test_both_participant_endpoints_are_documented(spec):
    assert {"/studies/{study_id}", "/tests"} <= set(spec["paths"])
    assert spec["paths"]["/tests"]["post"]["summary"]
    assert spec["paths"]["/studies/{study_id}"]["get"]["summary"]


def test_every_field_of_every_result_type_is_documented(spec):
    result = spec["components"]["schemas"]["Submission"]["properties"]["result"]
    documented = {}
    for variant in result["oneOf"]:
        schema = resolve(spec, variant.get("items", variant))
        documented.update(schema["properties"])
    for test_type in TEST_TYPES.values():
        for name in test_type.field_names:
            assert documented[name]["description"], name
    assert documented["crt_rt"]["format"] == "int64"
    assert documented["crt_rt"]["x-unit"] == "ms"
    assert documented["crt_response"]["enum"] == ["left", "right"]
    assert documented["dr_score"]["minimum"] == 0
    assert documented["dr_score"]["maximum"] == 5
    limits = {v.get("title"): v.get("maxItems") for v in result["oneOf"] if "items" in v}
    assert limits["Visual paired associates"] == 20
    assert limits["Spatial memory"] == 5


def test_envelope_fields_are_documented(spec):
    submission = spec["components"]["schemas"]["Submission"]
    assert set(submission["required"]) == {
        "study_id",
        "time_started",
        "time_elapsed_milliseconds",
        "device_info",
        "result",
    }
    for name, field in submission["properties"].items():
        assert field.get("description"), name


def test_request_examples_are_the_contract_samples(spec):
    examples = spec["paths"]["/tests"]["post"]["requestBody"]["content"]["application/json"][
        "examples"
    ]
    assert set(examples) == set(CONTRACT_SAMPLES)
    for name in CONTRACT_SAMPLES:
        assert examples[name]["value"] == load_sample(name, "abcdefgh")


def test_every_error_response_is_documented(spec):
    post = spec["paths"]["/tests"]["post"]["responses"]
    get = spec["paths"]["/studies/{study_id}"]["get"]["responses"]
    assert {"200", "400", "413", "415", "422", "429", "503"} <= set(post)
    assert {"200", "404", "429", "503"} <= set(get)
    assert "Retry-After" in post["429"]["headers"]
    for responses in (post, get):
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                assert response["description"], status
                assert "schema" in response["content"]["application/json"]


class _Assets(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts, self.inline_scripts, self.links = [], 0, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            if attrs.get("src"):
                self.scripts.append(attrs["src"])
            else:
                self.inline_scripts += 1
        if tag == "link":
            self.links.append(attrs["href"])
        if any(name.startswith("on") for name in attrs):
            self.inline_scripts += 1


def test_docs_page_has_no_inline_script_and_serves_its_own_assets(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assets = _Assets()
    assets.feed(page.get_data(as_text=True))
    assert assets.inline_scripts == 0
    assert len(assets.scripts) == 2
    for url in assets.scripts + assets.links:
        assert url.startswith("/static/"), url
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.data
    assert 'data-spec-url="/openapi.json"' in page.get_data(as_text=True)


@pytest.mark.browser
def test_swagger_ui_renders_under_a_strict_content_security_policy(app, tmp_path):
    @app.after_request
    def _strict_policy(response):
        response.headers.setdefault("Content-Security-Policy", STRICT_POLICY)
        return response

    with serving(app) as url:
        run = chromium_dump_dom(
            f"{url}/docs",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            budget_ms=15000,
            timeout=120,
        )
    dom, log = run.stdout, run.stderr
    violations = [line for line in log.splitlines() if "Content Security Policy" in line]
    assert violations == []
    rendered = set(re.findall(r'class="opblock-summary-path" data-path="([^"]+)"', dom))
    assert {"/studies/{study_id}", "/tests"} <= rendered, log[-2000:]
