"""The audit log: entries with time, action, client and counts; filters; CSV; the admin hook."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from conftest import TEST_PASSWORD
from pymongo.errors import ServerSelectionTimeoutError

from intact import audit, db


def entries(app, **filters):
    """(a page of the matching entries, newest first; how many match in all)"""
    with app.app_context():
        page = audit.find_entries(**filters)
    return page.items, page.total


def test_an_entry_holds_time_action_client_count_and_details(app):
    with app.test_request_context(environ_base={"REMOTE_ADDR": "192.0.2.7"}):
        audit.record(audit.DOWNLOAD, count=120, export="zip", participant_id="P001")
    (entry,), total = entries(app)
    assert total == 1
    assert entry["action"] == audit.DOWNLOAD
    assert entry["client"] == "192.0.2.7"
    assert entry["count"] == 120
    assert entry["details"] == {"export": "zip", "participant_id": "P001"}
    assert entry["time"].tzinfo is not None
    assert datetime.now(UTC) - entry["time"] < timedelta(seconds=5)


def test_outside_a_request_the_client_is_the_command_line(app):
    with app.app_context():
        audit.record(audit.BACKUP_WRITTEN, count=0)
    assert entries(app)[0][0]["client"] == audit.COMMAND_LINE


def test_unknown_actions_are_a_programming_error(app):
    with app.app_context(), pytest.raises(ValueError, match="unknown audit action"):
        audit.record("made_up")


def test_a_count_needs_the_unit_its_action_counts_in(app):
    assert set(audit.COUNT_UNITS) <= set(audit.ACTIONS)
    with app.app_context(), pytest.raises(ValueError, match="no count unit"):
        audit.record(audit.LOGIN_FAILURE, count=3)


def test_an_unreachable_database_does_not_fail_the_action(app, monkeypatch, caplog):
    def unreachable(name):
        raise ServerSelectionTimeoutError("no servers")

    monkeypatch.setattr(db, "collection", unreachable)
    with app.app_context():
        audit.record(audit.LOGIN_FAILURE)
    assert "audit entry not stored: login_failure" in caplog.text


def test_wrong_admin_passwords_are_recorded_without_the_password(app, client):
    response = client.post(
        "/studies",
        data={"password": "guess-123", "participant_ids": "P1"},
        environ_base={"REMOTE_ADDR": "1.2.3.4"},
    )
    assert response.status_code == 401
    (entry,), _ = entries(app, action=audit.ADMIN_PASSWORD_REFUSED)
    assert entry["client"] == "1.2.3.4"
    assert entry["details"] == {"endpoint": "admin_api.create_studies"}
    assert entry["who"] == audit.ANONYMOUS
    assert "guess-123" not in json.dumps(entry, default=str)


def test_requests_without_a_password_are_not_recorded_as_guesses(app, client):
    assert client.post("/studies", data={"participant_ids": "P1"}).status_code == 401
    assert entries(app)[1] == 0


def test_admin_actions_are_recorded(app, client):
    form = {"password": TEST_PASSWORD, "participant_ids": "P1\nP2\nP3"}
    assert client.post("/studies", data=form).status_code == 200
    (entry,), _ = entries(app, action=audit.STUDIES_CREATED)
    assert entry["count"] == 6
    assert entry["who"] == "built-in admin (ADMIN_PASSWORD)"
    assert entry["via"] == "password"


def fill_log(app):
    """Five entries a minute apart, oldest first."""
    start = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    rows = [
        (audit.LOGIN_FAILURE, "10.0.0.1"),
        (audit.LOGIN_SUCCESS, "10.0.0.2"),
        (audit.STUDIES_CREATED, "10.0.0.2"),
        (audit.DOWNLOAD, "10.0.0.2"),
        (audit.LOGIN_FAILURE, "10.0.0.9"),
    ]
    with app.app_context():
        db.collection(audit.COLLECTION).insert_many(
            [
                {
                    "time": start + timedelta(minutes=number),
                    "action": action,
                    "client": client,
                    "count": number,
                    "details": {},
                }
                for number, (action, client) in enumerate(rows)
            ]
        )
    return start


def test_entries_are_listed_newest_first_and_paged(app):
    fill_log(app)
    with app.app_context():
        second = audit.find_entries(page=2, per_page=2)
        past_the_end = audit.find_entries(page=9, per_page=2)
    assert (second.total, second.pages, second.page) == (5, 3, 2)
    assert [entry["count"] for entry in second.items] == [2, 1]
    assert (past_the_end.page, [entry["count"] for entry in past_the_end.items]) == (3, [0])


@pytest.mark.parametrize(
    ("filters", "expected_counts"),
    [
        ({"action": audit.LOGIN_FAILURE}, [4, 0]),
        ({"client": "10.0.0.2"}, [3, 2, 1]),
        ({"action": audit.LOGIN_SUCCESS, "client": "10.0.0.2"}, [1]),
        ({"since": datetime(2026, 11, 1, 9, 3, tzinfo=UTC)}, [4, 3]),
        ({"until": datetime(2026, 11, 1, 9, 1, tzinfo=UTC)}, [0]),
        # Values a user types stay values: no operator, no regex.
        ({"action": {"$ne": ""}}, []),
        ({"client": ".*"}, []),
    ],
)
def test_filters(app, filters, expected_counts):
    fill_log(app)
    page, total = entries(app, **filters)
    assert [entry["count"] for entry in page] == expected_counts
    assert total == len(expected_counts)


def test_csv_export(app):
    fill_log(app)
    with app.test_request_context(environ_base={"REMOTE_ADDR": "10.0.0.3"}):
        audit.record(audit.DOWNLOAD, count=None, file='=HYPERLINK("http://evil")')
        text = "".join(audit.iter_csv())
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(audit.CSV_COLUMNS)
    assert len(rows) == 7
    newest = rows[1]
    assert newest[1:6] == ["download", audit.ANONYMOUS, "10.0.0.3", "", ""]
    assert json.loads(newest[6]) == {"file": '=HYPERLINK("http://evil")'}
    oldest = rows[-1]
    # Entries written before accounts existed name nobody: the column is empty.
    assert oldest == ["2026-11-01T09:00:00.000Z", "login_failure", "", "10.0.0.1", "0", "", "{}"]


def test_csv_cells_cannot_start_a_formula(app):
    with app.app_context():
        db.collection(audit.COLLECTION).insert_one(
            {
                "time": datetime(2026, 11, 1, tzinfo=UTC),
                "action": audit.DOWNLOAD,
                "client": "=cmd|' /C calc'!A0",
                "count": 1,
                "details": {},
            }
        )
        text = "".join(audit.iter_csv(action=audit.DOWNLOAD))
    assert list(csv.reader(io.StringIO(text)))[1][3] == "'=cmd|' /C calc'!A0"


# --- the admin API's actions ---------------------------------------------------------------


def test_studies_created_through_the_admin_api_are_recorded(app, client):
    response = client.post(
        "/studies", data={"password": TEST_PASSWORD, "participant_ids": "P1\nP2"}
    )
    assert response.status_code == 200
    (entry,), _ = entries(app, action=audit.STUDIES_CREATED)
    assert entry["count"] == 4
    assert entry["details"]["participants"] == 2
    assert entry["details"]["via"] == "admin API"
    with app.app_context():
        assert db.studies().count_documents({"batch_id": entry["details"]["batch_id"]}) == 4


def test_a_finished_download_is_recorded_with_its_size(app, client, make_study, make_test):
    make_test(make_study("P7"))
    response = client.post(
        "/tests/zip-archive/download-file",
        data={"password": TEST_PASSWORD, "participant_id": "P7"},
        environ_base={"REMOTE_ADDR": "198.51.100.4"},
    )
    assert response.status_code == 200
    body = response.get_data()  # the entry is written when the last byte has gone
    (entry,), _ = entries(app, action=audit.DOWNLOAD)
    assert entry["count"] == len(body)
    assert entry["client"] == "198.51.100.4"
    assert entry["details"]["completed"] is True
    assert entry["details"]["participant_id"] == "P7"
    assert entry["details"]["file"].endswith(".zip")


def test_a_download_the_client_abandons_is_recorded_as_not_completed(app, client, make_study):
    for number in range(300):
        make_study(f"P{number}", study_id=f"s{number:07d}".replace("0", "q"))
    response = client.post(
        "/studies/download-file", data={"password": TEST_PASSWORD}, buffered=False
    )
    first_piece = next(response.response)
    response.close()  # what the server does when the browser cancels
    (entry,), _ = entries(app, action=audit.DOWNLOAD)
    assert entry["details"]["completed"] is False
    assert entry["count"] == len(first_piece)


def newest_download(app) -> dict:
    with app.app_context():
        return audit.find_entries(action=audit.DOWNLOAD).items[0]


def test_every_download_counts_the_bytes_it_sent_whatever_it_holds(
    app, admin, runner, tmp_path, make_study
):
    """One meaning of `count`: a batch CSV of 10 studies is its bytes, not "10 bytes"."""
    for number in range(10):
        make_study(f"P{number}", study_id=f"batch{number:03d}".replace("0", "z"))
    over_http = {
        "/admin/batches/test-batch/studies.csv": ("get", {}),
        "/admin/audit.csv": ("get", {}),
        "/tests/summary/download-file": ("post", {"password": TEST_PASSWORD}),
        "/studies/download-file": ("post", {"password": TEST_PASSWORD}),
    }
    for path, (method, form) in over_http.items():
        response = getattr(admin, method)(path, data=form)
        body = response.get_data()
        entry = newest_download(app)
        assert (entry["count"], entry["details"]["completed"]) == (len(body), True), path
        assert entry["details"]["file"] in response.headers["Content-Disposition"]
        if "batches" in path:
            assert entry["details"]["batch_id"] == "test-batch"
            assert entry["count"] > 10 * 50  # ten rows of about 90 bytes, not "10"

    for command, name in (("export", "all.zip"), ("export-summary", "scores.xlsx")):
        target = tmp_path / name
        assert runner.invoke(args=[command, str(target)]).exit_code == 0
        entry = newest_download(app)
        assert entry["count"] == target.stat().st_size
        assert (entry["client"], entry["details"]["file"]) == (audit.COMMAND_LINE, str(target))


def test_the_unit_of_each_count_is_said_in_the_csv_and_on_the_page(app, admin):
    with app.app_context():
        audit.record(audit.STUDIES_CREATED, count=1)
        audit.record(audit.STUDIES_CREATED, count=10)
        audit.record(audit.DOWNLOAD, count=2048, file="studies.csv", completed=True)
        audit.record(audit.BACKUP_WRITTEN, count=1234)
        text = "".join(audit.iter_csv())
    rows = {(row["action"], row["count"]): row for row in csv.DictReader(io.StringIO(text))}
    assert rows["studies_created", "1"]["count_unit"] == "studies"
    assert rows["download", "2048"]["count_unit"] == "bytes"
    assert rows["backup_written", "1234"]["count_unit"] == "documents"
    assert rows["login_success", ""]["count_unit"] == ""
    page = admin.get("/admin/audit").get_data(as_text=True)
    for shown in (">1 study<", ">10 studies<", ">2.0 KB<", ">1,234 documents<"):
        assert shown in page


# --- the dashboard page ----------------------------------------------------------------------


def test_the_audit_page_lists_entries_newest_first(app, admin):
    fill_log(app)
    page = admin.get("/admin/audit")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<h1>Audit log</h1>" in text
    # The login that opened this session is the newest entry.
    assert text.index(audit.ACTIONS[audit.LOGIN_SUCCESS]) < text.index("10.0.0.9")
    assert text.index("10.0.0.9") < text.index("10.0.0.1")
    assert "6 entries" in text


def test_the_audit_page_filters_and_answers_htmx_with_the_table_only(app, admin):
    fill_log(app)
    response = admin.get(
        "/admin/audit?action=login_failure&since=2026-11-01&until=2026-11-01",
        headers={"HX-Request": "true"},
    )
    text = response.get_data(as_text=True)
    assert "<html" not in text
    assert "2 entries" in text
    assert "10.0.0.9" in text
    assert "10.0.0.2" not in text
    assert response.headers["Vary"].count("HX-Request") == 1


def test_the_audit_page_takes_empty_filter_fields_as_any(app, admin):
    fill_log(app)
    response = admin.get(
        "/admin/audit?action=&client=&since=&until=", headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert "6 entries" in response.get_data(as_text=True)


def test_the_audit_page_explains_bad_filters(admin):
    response = admin.get("/admin/audit?action=$ne&since=yesterday")
    text = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Choose an action from the list." in text
    assert "A date like 2026-11-20." in text


def test_the_audit_page_pages(app, admin):
    with app.app_context():
        for number in range(120):
            audit.record(audit.LOGIN_FAILURE, client=f"10.1.0.{number}")
    first = admin.get("/admin/audit?action=login_failure").get_data(as_text=True)
    third = admin.get("/admin/audit?action=login_failure&page=3").get_data(as_text=True)
    assert "Page 1 of 3" in first
    assert "10.1.0.119<" in first
    assert "10.1.0.0<" in third
    assert "10.1.0.119<" not in third


def test_the_audit_page_counts_its_entries_once(app, admin, monkeypatch):
    fill_log(app)
    with app.app_context():
        collection_type = type(db.collection(audit.COLLECTION))
    real_count = collection_type.count_documents
    counted = []

    def count_documents(self, *args, **kwargs):
        counted.append(self.name)
        return real_count(self, *args, **kwargs)

    monkeypatch.setattr(collection_type, "count_documents", count_documents)
    assert "6 entries" in admin.get("/admin/audit").get_data(as_text=True)
    assert counted.count(audit.COLLECTION) == 1


def test_the_audit_log_downloads_as_csv_with_the_pages_filters(app, admin):
    fill_log(app)
    response = admin.get("/admin/audit.csv?client=10.0.0.2")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=audit-log-")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == list(audit.CSV_COLUMNS)
    assert [row[1] for row in rows[1:]] == ["download", "studies_created", "login_success"]
    (entry,), _ = entries(app, action=audit.DOWNLOAD, client="127.0.0.1")
    assert entry["details"]["file"] in response.headers["Content-Disposition"]
    assert entry["details"]["filters"] == {"client": "10.0.0.2"}
    assert entry["count"] == len(response.get_data())


def test_the_audit_page_is_in_the_menu(admin):
    assert 'href="/admin/audit"' in admin.get("/admin/").get_data(as_text=True)
