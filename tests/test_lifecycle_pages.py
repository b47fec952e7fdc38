"""The participant page's lifecycle actions through the test client: each confirmed on its own
page, refused forms back with the message beside the field, roles, and the audit entries."""

import pytest
from conftest import CSRF_TOKEN, make_account, start_session

from intact import audit, db, progress, studies


@pytest.fixture
def p1(app):
    with app.test_request_context():
        created = studies.create_studies(["P1"], 1, 1)
    return {s["study_type"]: s for s in created}


def logged_in(app, client, role):
    account = make_account(app, f"{role}@example.org", role)
    start_session(app, client, account)
    return client


def post(client, path, **form):
    return client.post(path, data={"csrf_token": CSRF_TOKEN, **form})


def test_the_study_team_sees_the_actions_an_analyst_does_not(app, client, p1):
    researcher = logged_in(app, client, "researcher")
    page = researcher.get("/admin/participants/P1").get_data(as_text=True)
    for words in ("Add studies", "Withdraw participant", "Deactivate and reissue link", "Notes"):
        assert words in page
    assert "Erase participant" not in page  # admins only
    assert researcher.get("/admin/participants/P1/erase").status_code == 403

    analyst = app.test_client()
    start_session(app, analyst, make_account(app, "ana@example.org", "analyst"))
    page = analyst.get("/admin/participants/P1").get_data(as_text=True)
    for words in ("Add studies", "Withdraw participant", "Deactivate and reissue", "Notes"):
        assert words not in page
    assert analyst.get("/admin/participants/P1/withdraw").status_code == 403
    assert post(analyst, "/admin/participants/P1/notes", text="hi").status_code == 403


def test_a_form_without_a_reason_comes_back_with_the_message_beside_the_field(app, client, p1):
    researcher = logged_in(app, client, "researcher")
    for path in (
        "/admin/participants/P1/withdraw",
        f"/admin/studies/{p1['baseline']['study_id']}/reissue",
    ):
        refused = post(researcher, path, reason="   ")
        assert refused.status_code == 422
        text = refused.get_data(as_text=True)
        assert 'id="reason-error"' in text and "Say why" in text
    with app.app_context():
        assert db.studies().count_documents({"deactivated_at": {"$ne": None}}) == 0
        assert db.studies().count_documents({"withdrawn_at": {"$ne": None}}) == 0


def test_add_studies_then_a_note_then_withdraw(app, client, p1):
    researcher = logged_in(app, client, "researcher")
    assert "Follow-up studies to add" in researcher.get(
        "/admin/participants/P1/studies/new"
    ).get_data(as_text=True)
    added = post(
        researcher, "/admin/participants/P1/studies/new", followups="1", baselines="0", reason=""
    )
    assert added.status_code == 303
    page = researcher.get(added.headers["Location"]).get_data(as_text=True)
    assert "Added Follow-up 2 for P1" in page

    empty = post(researcher, "/admin/participants/P1/notes", text="  ")
    assert empty.status_code == 422
    assert 'id="note-error"' in empty.get_data(as_text=True)
    noted = post(researcher, "/admin/participants/P1/notes", text="Phoned: <b>next week</b>")
    assert noted.status_code == 303 and noted.headers["Location"].endswith("#notes")
    page = researcher.get("/admin/participants/P1").get_data(as_text=True)
    assert "Phoned: &lt;b&gt;next week&lt;/b&gt;" in page
    assert "researcher@example.org" in page

    withdrawn = post(researcher, "/admin/participants/P1/withdraw", reason="Moved abroad")
    assert withdrawn.status_code == 303
    page = researcher.get("/admin/participants/P1").get_data(as_text=True)
    assert "Withdrew on" in page and "Moved abroad" in page
    assert "Add studies" not in page and "Deactivate and reissue link" not in page
    grid = researcher.get("/admin/progress").get_data(as_text=True)
    assert "Withdrawn" in grid
    again = post(researcher, "/admin/participants/P1/studies/new", followups="1")
    assert again.status_code == 422 and "withdrew" in again.get_data(as_text=True)
    with app.app_context():
        actions = [e["action"] for e in audit.find_entries().items]
    assert {audit.STUDIES_ADDED, audit.NOTE_ADDED, audit.PARTICIPANT_WITHDRAWN} <= set(actions)


def test_reissue_shows_the_new_link_and_the_grid_shows_only_it(app, client, p1):
    researcher = logged_in(app, client, "researcher")
    old = p1["followup"]["study_id"]
    confirm = researcher.get(f"/admin/studies/{old}/reissue").get_data(as_text=True)
    assert "The link stops working at once" in confirm
    done = post(researcher, f"/admin/studies/{old}/reissue", reason="Sent to the wrong address")
    assert done.status_code == 303
    with app.app_context():
        new = db.studies().find_one({"replaces": old})
    page = researcher.get("/admin/participants/P1").get_data(as_text=True)
    assert f"the new link is {new['url']}" in page
    assert "Link deactivated" in page
    grid = researcher.get("/admin/progress").get_data(as_text=True)
    assert new["study_id"] in grid and old not in grid
    with app.test_request_context():
        counted = progress.overview()
    assert (counted.studies, counted.studies_by_type["followup"]) == (2, 1)
    twice = post(researcher, f"/admin/studies/{old}/reissue", reason="again")
    assert twice.status_code == 422 and "deactivated already" in twice.get_data(as_text=True)


def test_erase_needs_the_participant_id_typed_again(app, client, p1):
    boss = logged_in(app, client, "admin")
    app.config["ADMIN_TWO_FACTOR_REQUIRED"] = False
    assert "Type the participant id" in boss.get("/admin/participants/P1/erase").get_data(
        as_text=True
    )
    wrong = post(boss, "/admin/participants/P1/erase", reason="GDPR", confirm_participant_id="P2")
    assert wrong.status_code == 422
    assert "Type P1 exactly" in wrong.get_data(as_text=True)
    with app.app_context():
        assert db.studies().count_documents({"participant_id": "P1"}) == 2
    done = post(boss, "/admin/participants/P1/erase", reason="GDPR", confirm_participant_id=" P1 ")
    assert done.status_code == 303 and done.headers["Location"].endswith("/admin/progress")
    assert "P1 is erased" in boss.get("/admin/progress").get_data(as_text=True)
    with app.app_context():
        assert db.studies().count_documents({"participant_id": "P1"}) == 0
    assert boss.get("/admin/participants/P1").status_code == 404
