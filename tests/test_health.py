"""Operations: health check, request log, shell context."""

import io
import json
import logging

from intact import logs


def test_healthz_is_ok_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_root_points_to_docs_and_dashboard(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "/docs" in response.json["message"]
    assert "/admin" in response.json["message"]


def test_unknown_path_is_a_json_404(client):
    response = client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.is_json
    assert response.json["message"]


def test_one_log_line_per_request_with_route_not_raw_path(client, caplog):
    with caplog.at_level(logging.INFO, logger="intact.request"):
        client.get("/healthz")
    records = [r for r in caplog.records if r.name == "intact.request"]
    assert len(records) == 1
    fields = records[0].fields
    assert fields["method"] == "GET"
    assert fields["path"] == "/healthz"
    assert fields["status"] == 200
    assert fields["duration_ms"] >= 0


def test_log_lines_are_json_when_not_on_a_terminal():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonLineFormatter())
    record = logging.LogRecord(
        "intact.request", logging.INFO, __file__, 1, "GET /x 200", None, None
    )
    record.fields = {"status": 200}
    handler.emit(record)
    line = json.loads(stream.getvalue())
    assert line["message"] == "GET /x 200"
    assert line["status"] == 200
    assert line["level"] == "INFO"


def test_shell_has_db_collections_and_config(app):
    with app.app_context():
        context = app.make_shell_context()
    assert {"db", "studies", "tests", "config"} <= context.keys()
    assert context["studies"].name == "studies"
    assert context["config"]["DB_NAME"] == "intact"
