"""What only the real server shows: gunicorn as `make run` starts it, on the embedded store.

One server for the module: refused bodies cannot fill the disk (the quarantine's caps, with the
keeping done after the answer under the real server), and a body the server cannot parse is a
400, not a 500.
"""

import http.client
import json
import socket
from pathlib import Path

import pytest
from conftest import GUNICORN_STUDY, Gunicorn, seeded_store_environment, store_settings

from intact import create_app, db, quarantine


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    environment = seeded_store_environment(tmp_path_factory.mktemp("edges") / "data")
    # TRUSTED_PROXIES=0 (its default) said here: the forwarded-header test reads this server.
    environment.update(RATELIMIT_ENABLED="0", LOG_LEVEL="WARNING", TRUSTED_PROXIES="0")
    with Gunicorn(environment) as running:
        yield running


def raw_request(server, method, path, headers, body=b"") -> tuple[int, dict, bytes]:
    """Send bytes exactly as given (with their Content-Length unless chunked), then say that
    nothing more comes (half-close); the answer as (status, headers, body)."""
    if body and "Transfer-Encoding" not in headers:
        headers = {**headers, "Content-Length": str(len(body))}
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    port = int(server.environment["PORT"])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(head.encode("latin-1") + b"\r\n" + body)
        connection.shutdown(socket.SHUT_WR)
        answer = http.client.HTTPResponse(connection)
        answer.begin()
        return answer.status, dict(answer.getheaders()), answer.read()


def folder_size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def test_refused_bodies_cannot_fill_the_disk(server):
    data_dir = Path(server.environment["DATA_DIR"])
    before = folder_size(data_dir)
    filler = "x" * (1_000_000 - 100)
    body = json.dumps({"study_id": GUNICORN_STUDY, "result": [], "notes": 7, "pad": filler})
    for _ in range(40):
        status, _, answer = raw_request(
            server, "POST", "/tests", {"Content-Type": "application/json"}, body.encode()
        )
        assert status == 422, answer
    app = create_app(store_settings(server.environment))
    with app.app_context():
        kept = quarantine.count_refused(GUNICORN_STUDY)
        counted = quarantine.not_kept_since(1)
    cap_bytes = app.config["QUARANTINE_MAX_BYTES_PER_STUDY"]
    # Kept after each answer, under the real server: as many as the study's byte cap allows.
    assert kept == cap_bytes // len(body)
    assert counted[quarantine.STUDY_FULL] == 40 - kept
    # 40 MB were sent; the store grew by about the cap (the issue saw 41 MB). The embedded store's
    # SQLite write-ahead log is reused, not truncated, after a checkpoint: it holds up to its
    # checkpoint size (1000 pages, 4 MiB) plus the last write, beside the database itself.
    sqlite_wal_bound = 4 * 2**20 + len(body)
    assert folder_size(data_dir) - before < cap_bytes + sqlite_wal_bound + 2**20
    with app.app_context():
        db.quarantine().delete_many({})


MALFORMED_CHUNKED = {
    "bad-size": b"zz\r\n{}\r\n0\r\n\r\n",
    "no-terminator": b"2\r\n{}XX0\r\n\r\n",
    "size-too-big": b"ffffffffffffffffffff\r\n{}\r\n0\r\n\r\n",
    "cut-short": b"10\r\n{}",
}


@pytest.mark.parametrize("body", MALFORMED_CHUNKED.values(), ids=MALFORMED_CHUNKED.keys())
@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/tests", "application/json"),
        ("/studies", "application/x-www-form-urlencoded"),
        ("/studies/upload-file", "multipart/form-data; boundary=x"),
    ],
)
def test_a_malformed_chunked_body_is_a_400_json(server, path, content_type, body):
    headers = {"Content-Type": content_type, "Transfer-Encoding": "chunked"}
    status, answer_headers, answer = raw_request(server, "POST", path, headers, body)
    assert status == 400, answer
    assert answer_headers["Content-Type"] == "application/json"
    assert "could not be read" in json.loads(answer)["message"]


@pytest.mark.parametrize("body", MALFORMED_CHUNKED.values(), ids=MALFORMED_CHUNKED.keys())
def test_a_malformed_chunked_dashboard_form_is_a_400_page(server, body):
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Transfer-Encoding": "chunked",
    }
    status, answer_headers, answer = raw_request(server, "POST", "/admin/login", headers, body)
    assert status == 400, answer
    assert answer_headers["Content-Type"].startswith("text/html")


# --- what `make run` settings mean under the real server -----------------------------------------


def test_log_level_warning_still_prints_where_the_app_is_and_how_to_log_in(tmp_path):
    environment = seeded_store_environment(tmp_path / "data")
    environment["LOG_LEVEL"] = "WARNING"
    with Gunicorn(environment) as running:
        pass
    assert f"INTACT backend on http://127.0.0.1:{environment['PORT']}" in running.output
    assert f"Data: embedded store in {tmp_path / 'data' / 'db'}" in running.output
    assert "Admin password: gunicorn-admin-password" in running.output


def assert_forwarded_proto_believed(running, believed: bool) -> None:
    """A forged X-Forwarded-Proto from loopback makes the answer HTTPS-only iff `believed`."""
    forged = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    status, headers, _ = raw_request(running, "GET", "/admin/login", forged)
    assert status == 200
    cookie = headers["Set-Cookie"]
    # From loopback too: gunicorn's own default would have believed X-Forwarded-Proto there.
    assert ("Strict-Transport-Security" in headers) is believed
    assert ("; Secure" in cookie) is believed


def test_forwarded_proto_is_not_believed_without_trusted_proxies(server):
    assert server.environment["TRUSTED_PROXIES"] == "0"
    assert_forwarded_proto_believed(server, believed=False)


def test_forwarded_proto_is_believed_from_a_trusted_proxy(tmp_path):
    environment = seeded_store_environment(tmp_path / "data")
    environment.update(TRUSTED_PROXIES="1", LOG_LEVEL="WARNING")
    with Gunicorn(environment) as running:
        assert_forwarded_proto_believed(running, believed=True)


def test_an_in_memory_database_under_gunicorn_is_one_database(tmp_path):
    environment = seeded_store_environment(tmp_path / "data")
    environment.update(DB_CONNECTION_STR="mongomock://", LOG_LEVEL="WARNING")
    form = b"password=gunicorn-admin-password&participant_ids=P1&followups_per_participant=0"
    with Gunicorn(environment) as running:
        status, _, created = raw_request(
            running,
            "POST",
            "/studies",
            {"Content-Type": "application/x-www-form-urlencoded"},
            form,
        )
        assert status == 200, created
        study_id = json.loads(created)[0]["study_id"]
        answers = [raw_request(running, "GET", f"/studies/{study_id}", {})[0] for _ in range(20)]
    assert answers == [200] * 20


# --- downloads named after a participant id in any script ----------------------------------------

PASSWORD_FORM = {"Content-Type": "application/x-www-form-urlencoded"}
DOWNLOADS = [
    ("/studies/download-file", {}),
    ("/tests/single-test-type/download-file", {"test_type": "delayed_recall"}),
    ("/tests/zip-archive/download-file", {}),
    ("/tests/summary/download-file", {}),
    ("/tests/workbook/download-file", {}),
]


@pytest.mark.parametrize("participant_id", ["张伟1", "Müller1", "Иван7", "P001"])
@pytest.mark.parametrize(("path", "fields"), DOWNLOADS, ids=[path for path, _ in DOWNLOADS])
def test_every_download_names_its_file_for_every_browser(server, participant_id, path, fields):
    """RFC 6266 / 5987: an ASCII filename= fallback and filename*=UTF-8''… for any other name;
    raw non-ASCII in a header is refused by gunicorn (a 500) or misread by browsers."""
    from urllib.parse import quote, urlencode

    password = server.environment["ADMIN_PASSWORD"]
    create = urlencode({"password": password, "participant_ids": participant_id})
    raw_request(server, "POST", "/studies", PASSWORD_FORM, create.encode())
    form = urlencode({"password": password, "participant_id": participant_id, **fields})
    status, headers, body = raw_request(server, "POST", path, PASSWORD_FORM, form.encode())
    assert status == 200, body[:300]
    disposition = headers["Content-Disposition"]
    assert disposition.isascii()
    assert disposition.startswith("attachment; filename=")
    fallback = disposition.split("filename=", 1)[1].split(";", 1)[0].strip('"')
    assert fallback.endswith((".csv", ".zip", ".xlsx"))
    named_after_participant = path.endswith(("zip-archive/download-file", "workbook/download-file"))
    if named_after_participant and participant_id.isascii():
        assert participant_id in fallback
    elif named_after_participant:
        assert "filename*=UTF-8''" in disposition
        assert quote(participant_id) in disposition.split("filename*=UTF-8''", 1)[1]
