"""A participant's life through /api/v1: add studies, notes, reissue a link, withdraw, erase, and
accept a result that arrived after its link was closed. Nothing a participant sent is lost,
except by erasure, and erasure leaves no document naming the participant."""

import csv
import hashlib
import hmac
import io
import json
import zipfile

import pytest
from conftest import bearer, csrf_from, load_sample, make_account, make_token

from intact import audit, db, exports, summaries
from intact.api.participant import UNKNOWN_STUDY_MESSAGE
from intact.participants import notes


@pytest.fixture
def write_token(app, researcher):
    return bearer(make_token(app, researcher, "write"))


@pytest.fixture
def admin_token(app):
    return bearer(make_token(app, make_account(app, "boss@example.org", "admin"), "write"))


@pytest.fixture
def participant(client, write_token):
    """P1 with a baseline and a follow-up, and P10 (whose id contains "P1"), through the API."""
    created = client.post(
        "/api/v1/studies",
        json={"participant_ids": ["P1", "P10"], "followups_per_participant": 1},
        headers=write_token,
    )
    assert created.status_code == 200
    return {(s["participant_id"], s["study_type"]): s for s in created.json}


def reissue(client, study_id, token, reason="lost"):
    return client.post(
        f"/api/v1/studies/{study_id}/reissue", json={"reason": reason}, headers=token
    )


def post_test(client, study_id, sample="delayed_recall"):
    return client.post("/tests", json=load_sample(sample, study_id))


def audit_entries(app, action):
    with app.app_context():
        return audit.find_entries(action=action).items


# --- add studies ---------------------------------------------------------------------------


def test_adding_followups_continues_the_numbering_and_is_audited(
    app, client, participant, write_token
):
    added = client.post(
        "/api/v1/participants/P1/studies",
        json={"followups": 2, "reason": "Extended to 24 months"},
        headers=write_token,
    )
    assert added.status_code == 200
    assert [(s["study_type"], s["followup_number"]) for s in added.json] == [
        ("followup", 2),
        ("followup", 3),
    ]
    assert all(s["participant_id"] == "P1" and s["url"].endswith(s["study_id"]) for s in added.json)
    (entry,) = audit_entries(app, audit.STUDIES_ADDED)
    assert entry["who"] == "res@example.org"
    assert entry["count"] == 2
    assert entry["details"]["participant_id"] == "P1"
    assert entry["details"]["reason"] == "Extended to 24 months"
    assert entry["details"]["studies"] == ["Follow-up 2", "Follow-up 3"]


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        ("/api/v1/participants/P9/studies", {}, 404, "P9"),
        ("/api/v1/participants/P1/studies", {"followups": 0}, 400, "nonzero"),
        ("/api/v1/participants/P1/studies", {"followups": -1}, 422, "greater than"),
        ("/api/v1/participants/P1/notes", {"text": "   "}, 400, "empty"),
        ("/api/v1/participants/P9/notes", {"text": "hello"}, 404, "P9"),
        ("/api/v1/participants/P1/withdraw", {}, 422, "reason"),
        ("/api/v1/participants/P1/withdraw", {"reason": "  "}, 400, "why"),
        ("/api/v1/participants/P9/withdraw", {"reason": "asked"}, 404, "P9"),
        ("/api/v1/studies/zzzzzzzz/reissue", {"reason": "lost"}, 404, "zzzzzzzz"),
        ("/api/v1/refused/nothing/accept", {}, 404, "no refused submission"),
    ],
)
def test_bad_requests_are_4xx_naming_the_problem(
    client, participant, write_token, path, body, status, words
):
    response = client.post(path, json=body, headers=write_token)
    assert response.status_code == status
    assert words.lower() in json.dumps(response.json).lower()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/participants/P1/studies", {"followups": 1}),
        ("/api/v1/participants/P1/notes", {"text": "hello"}),
        ("/api/v1/participants/P1/withdraw", {"reason": "asked"}),
        ("/api/v1/studies/abcdefgh/reissue", {"reason": "lost"}),
        ("/api/v1/refused/nothing/accept", {}),
    ],
)
def test_a_read_token_changes_nothing(app, client, participant, researcher, path, body):
    read = bearer(make_token(app, researcher, "read"))
    response = client.post(path, json=body, headers=read)
    assert response.status_code == 403
    assert "write" in response.json["message"]


# --- notes ---------------------------------------------------------------------------------


def test_notes_are_dated_signed_newest_first_and_never_exported(
    app, client, admin, participant, write_token
):
    for text in ("Phoned 12 May: will do it next week.", "Sent the link again by SMS."):
        answer = client.post(
            "/api/v1/participants/P1/notes", json={"text": text}, headers=write_token
        )
        assert answer.status_code == 200
        assert answer.json["author"] == "res@example.org"
        assert answer.json["created_at"].endswith("Z")
    listed = client.get("/api/v1/participants/P1/notes", headers=write_token).json
    assert [n["text"] for n in listed] == [
        "Sent the link again by SMS.",
        "Phoned 12 May: will do it next week.",
    ]
    assert client.get("/api/v1/participants/P10/notes", headers=write_token).json == []
    (entry, _) = audit_entries(app, audit.NOTE_ADDED)
    assert "Phoned" not in json.dumps(entry["details"])  # the log names the participant only

    with app.app_context():
        everything = b"".join(
            b"".join(table.csv()) for table in (exports.studies_table(), summaries.summary_table())
        )
    assert b"Phoned" not in everything
    token = csrf_from(admin.get("/admin/downloads"))
    archive = admin.post("/admin/downloads/archive", data={"csrf_token": token})
    assert archive.status_code == 200
    with zipfile.ZipFile(io.BytesIO(archive.data)) as opened:
        assert not any(b"Phoned" in opened.read(name) for name in opened.namelist())


def test_analysts_do_not_read_notes(app, client, participant):
    analyst = bearer(make_token(app, make_account(app, "ana@example.org", "analyst"), "read"))
    assert client.get("/api/v1/participants/P1/notes", headers=analyst).status_code == 403


# --- deactivate and reissue -----------------------------------------------------------------


def test_a_reissued_link_replaces_the_old_one_which_answers_as_unknown(
    app, client, participant, write_token
):
    old = participant[("P1", "followup")]
    assert post_test(client, old["study_id"]).status_code == 200  # a test before: kept there
    answer = client.post(
        f"/api/v1/studies/{old['study_id'].upper()}/reissue",
        json={"reason": "Forwarded to a relative"},
        headers=write_token,
    )
    assert answer.status_code == 200
    new = answer.json
    assert new["study_id"] != old["study_id"]
    assert (new["participant_id"], new["study_type"], new["followup_number"]) == (
        "P1",
        "followup",
        1,
    )
    assert new["replaces"] == old["study_id"]

    unknown = client.get("/studies/qqqqqqqq")
    gone = client.get(f"/studies/{old['study_id']}")
    assert (
        (gone.status_code, gone.json)
        == (unknown.status_code, unknown.json)
        == (
            404,
            gone.json,
        )
    )
    assert client.get(f"/studies/{new['study_id']}").json == {"study_type": "followup"}
    assert post_test(client, new["study_id"]).status_code == 200

    again = client.post(
        f"/api/v1/studies/{old['study_id']}/reissue", json={"reason": "x"}, headers=write_token
    )
    assert again.status_code == 409
    assert new["study_id"] in again.json["message"]

    listed = client.get("/api/v1/participants/P1", headers=write_token).json["studies"]
    deactivated = {s["study_id"]: s["deactivated_at"] is not None for s in listed}
    assert deactivated == {
        participant[("P1", "baseline")]["study_id"]: False,
        old["study_id"]: True,
        new["study_id"]: False,
    }
    (entry,) = audit_entries(app, audit.LINK_REISSUED)
    assert entry["who"] == "res@example.org"
    assert entry["details"]["reason"] == "Forwarded to a relative"
    assert entry["details"]["study"] == "Follow-up 1"
    with app.app_context():
        stored = db.studies().find_one({"study_id": old["study_id"]})
        assert stored["replaced_by"] == new["study_id"]
        assert db.tests().count_documents({"study_id": old["study_id"]}) == 1


def test_a_late_result_for_a_deactivated_link_is_kept_and_can_be_accepted(
    app, client, participant, write_token
):
    old = participant[("P1", "baseline")]
    reissue(client, old["study_id"], write_token)
    late = post_test(client, old["study_id"], "spatial_memory")
    assert late.status_code == 400
    assert late.json["message"] == UNKNOWN_STUDY_MESSAGE  # as for an id that never existed
    with app.app_context():
        (kept,) = db.quarantine().find({"study_id": old["study_id"]})
        assert kept["reason"] == "link deactivated"
        assert kept["participant_id"] == "P1"
        assert db.studies().find_one({"study_id": old["study_id"]})["refused_count"] == 1

    accepted = client.post(f"/api/v1/refused/{kept['quarantine_id']}/accept", headers=write_token)
    assert accepted.status_code == 200
    assert accepted.json["study_id"] == old["study_id"]
    assert accepted.json["test_type"] == "spatial_memory"
    with app.app_context():
        assert db.quarantine().count_documents({}) == 0
        (test,) = db.tests().find({"study_id": old["study_id"]})
        assert test["result"] == load_sample("spatial_memory", old["study_id"])["result"]
        study = db.studies().find_one({"study_id": old["study_id"]})
        assert (study["refused_count"], study["submissions"]) == (0, {"spatial_memory": 1})
    (entry,) = audit_entries(app, audit.REFUSED_ACCEPTED)
    assert entry["details"]["refused_because"] == "link deactivated"
    again = client.post(f"/api/v1/refused/{kept['quarantine_id']}/accept", headers=write_token)
    assert again.status_code == 404


def test_an_invalid_late_result_is_kept_but_cannot_be_accepted(
    app, client, participant, write_token
):
    old = participant[("P1", "baseline")]
    reissue(client, old["study_id"], write_token)
    body = load_sample("delayed_recall", old["study_id"])
    body["result"]["dr_score"] = 99
    assert client.post("/tests", json=body).status_code == 422
    with app.app_context():
        (kept,) = db.quarantine().find({"study_id": old["study_id"]})
    assert kept["reason"] == "link deactivated" and kept["errors"]
    refused = client.post(f"/api/v1/refused/{kept['quarantine_id']}/accept", headers=write_token)
    assert refused.status_code == 409
    assert "own errors" in refused.json["message"]


# --- withdraw ------------------------------------------------------------------------------


def test_withdrawal_closes_every_link_keeps_the_data_and_every_export_says_so(
    app, client, participant, write_token
):
    baseline = participant[("P1", "baseline")]
    assert post_test(client, baseline["study_id"]).status_code == 200
    answer = client.post(
        "/api/v1/participants/P1/withdraw",
        json={"erase": False, "reason": "Consent withdrawn by phone"},
        headers=write_token,
    )
    assert answer.status_code == 200
    assert answer.json["erased"] is False
    assert answer.json["studies_closed"] == 2
    assert answer.json["withdrawn_at"].endswith("Z")

    for key in (("P1", "baseline"), ("P1", "followup")):
        assert client.get(f"/studies/{participant[key]['study_id']}").status_code == 404
    assert client.get(f"/studies/{participant[('P10', 'baseline')]['study_id']}").status_code == 200
    late = post_test(client, participant[("P1", "followup")]["study_id"])
    assert late.status_code == 400
    with app.app_context():
        assert db.tests().count_documents({"participant_id": "P1"}) == 1  # the data stay
        (kept,) = db.quarantine().find({"participant_id": "P1"})
        assert kept["reason"] == "participant withdrawn"
        studies_rows = list(csv.DictReader(io.StringIO(_text(exports.studies_table().csv()))))
        summary_rows = list(csv.DictReader(io.StringIO(_text(summaries.summary_table().csv()))))
    for rows in (studies_rows, summary_rows):
        assert {(r["participant_id"], r["withdrawn"]) for r in rows} == {
            ("P1", "true"),
            ("P10", "false"),
        }
    assert all(r["withdrawn_at"] for r in studies_rows if r["participant_id"] == "P1")

    for path, body in (
        ("/api/v1/participants/P1/withdraw", {"reason": "again"}),
        ("/api/v1/participants/P1/studies", {"followups": 1}),
        (f"/api/v1/studies/{baseline['study_id']}/reissue", {"reason": "x"}),
    ):
        refused = client.post(path, json=body, headers=write_token)
        assert refused.status_code == 409, path
        assert "withdrew" in refused.json["message"]
    shown = client.get("/api/v1/participants/P1", headers=write_token).json
    assert shown["withdrawn_at"] == answer.json["withdrawn_at"]
    assert client.get("/api/v1/participants/P10", headers=write_token).json["withdrawn_at"] is None
    (entry,) = audit_entries(app, audit.PARTICIPANT_WITHDRAWN)
    assert (entry["who"], entry["count"]) == ("res@example.org", 2)
    assert entry["details"] == {"participant_id": "P1", "reason": "Consent withdrawn by phone"}

    accepted = client.post(f"/api/v1/refused/{kept['quarantine_id']}/accept", headers=write_token)
    assert accepted.status_code == 200  # a researcher may still take in what arrived late


def _text(chunks) -> str:
    return b"".join(chunks).decode("utf-8")


# --- erase ---------------------------------------------------------------------------------


def test_only_an_admin_may_erase(app, client, participant, write_token):
    refused = client.post(
        "/api/v1/participants/P1/withdraw",
        json={"erase": True, "reason": "Right to erasure"},
        headers=write_token,
    )
    assert refused.status_code == 403
    with app.app_context():
        assert db.studies().count_documents({"participant_id": "P1"}) == 2


def documents_mentioning(app, *needles: str) -> list[tuple[str, dict]]:
    """Every document of every collection whose stored text contains one of the needles."""
    found = []
    with app.app_context():
        for name in db.get_db().list_collection_names():
            for document in db.collection(name).find():
                text = json.dumps(document, default=str)
                if any(needle in text for needle in needles):
                    found.append((name, document))
    return found


def test_erasure_leaves_no_document_naming_the_participant(
    app, client, participant, write_token, admin_token
):
    baseline, followup = participant[("P1", "baseline")], participant[("P1", "followup")]
    # Everything a participant can leave behind: tests, a refused submission, a reissued link,
    # notes, withdrawal, a download naming them, and audit entries of each.
    assert post_test(client, baseline["study_id"]).status_code == 200
    bad = load_sample("delayed_recall", baseline["study_id"])
    bad["result"]["dr_score"] = 99
    assert client.post("/tests", json=bad).status_code == 422
    client.post(
        "/api/v1/participants/P1/notes", json={"text": "P1 phoned on Monday"}, headers=write_token
    )
    client.post(
        f"/api/v1/studies/{followup['study_id']}/reissue",
        json={"reason": "P1 lost it"},
        headers=write_token,
    )
    client.get("/api/v1/tests?participant_id=P1", headers=write_token)
    client.post("/api/v1/participants/P1/withdraw", json={"reason": "asked"}, headers=write_token)
    assert post_test(client, followup["study_id"]).status_code == 400
    with app.app_context():
        study_ids = db.studies().distinct("study_id", {"participant_id": "P1"})
        kept_for_p10 = db.studies().count_documents({"participant_id": "P10"})
    assert len(study_ids) == 3
    assert documents_mentioning(app, 'P1"', "P1 ", *study_ids)

    erased = client.post(
        "/api/v1/participants/P1/withdraw",
        json={"erase": True, "reason": "Right to erasure (GDPR art. 17) for P1"},
        headers=admin_token,
    )
    assert erased.status_code == 200
    assert erased.json["erased"] is True
    assert erased.json["deleted"] == {
        "studies": 3,
        "tests": 1,
        "quarantine": 2,
        "participant_notes": 1,
    }
    # Under PSEUDONYM_KEY when the deployment has one (the tests' app does), else SECRET_KEY.
    key = (app.config["PSEUDONYM_KEY"] or app.config["SECRET_KEY"]).encode()
    expected_hash = hmac.new(key, b"P1", hashlib.sha256).hexdigest()
    assert erased.json["participant_hash"] == expected_hash

    assert documents_mentioning(app, 'P1"', "P1 ", "P1]", *study_ids) == []
    with app.app_context():
        assert db.studies().count_documents({"participant_id": "P10"}) == kept_for_p10
        assert notes.notes_of("P1") == []
    (entry,) = audit_entries(app, audit.PARTICIPANT_ERASED)
    assert entry["who"] == "boss@example.org"
    assert entry["count"] == 7
    assert entry["details"]["participant_hash"] == expected_hash
    assert entry["details"]["reason"].startswith("Right to erasure (GDPR art. 17) for [erased")
    assert "participant_id" not in entry["details"]
    (withdrawn,) = audit_entries(app, audit.PARTICIPANT_WITHDRAWN)
    assert withdrawn["details"]["participant_hash"] == expected_hash

    gone = client.get("/api/v1/participants/P1", headers=write_token)
    assert gone.status_code == 404
    again = client.post(
        "/api/v1/participants/P1/withdraw",
        json={"erase": True, "reason": "again"},
        headers=admin_token,
    )
    assert again.status_code == 404


def test_nothing_sent_to_a_closed_link_is_lost(app, client, participant, write_token):
    """Every submission to a deactivated link or a withdrawn participant's is kept somewhere."""
    old = participant[("P1", "baseline")]
    reissue(client, old["study_id"], write_token)
    client.post("/api/v1/participants/P10/withdraw", json={"reason": "asked"}, headers=write_token)
    sent = 0
    for study_id in (old["study_id"], participant[("P10", "baseline")]["study_id"]):
        for sample in ("delayed_recall", "spatial_memory", "choice_reaction_time"):
            assert post_test(client, study_id, sample).status_code == 400
            sent += 1
    with app.app_context():
        reasons = [entry["reason"] for entry in db.quarantine().find()]
    assert len(reasons) == sent
    assert sorted(set(reasons)) == ["link deactivated", "participant withdrawn"]
