"""One numbering of follow-ups: given at creation, continued later, the same on every page and file.

The issue's case: a coordinator creates 25 participants x 2 follow-ups in one upload; every
study of the batch shares one creation time, so any page that ordered follow-ups its own way
(creation time, study id, date taken) disagreed with the batch page about which link is
"Follow-up 1". Here every reader must name each study by the number it got at creation.
"""

import csv
import io
import re
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from conftest import TEST_PASSWORD, load_sample

from intact import create_app, db, studies
from intact.participants import followups, migrations

PARTICIPANTS = [f"C{n:02d}" for n in range(1, 26)]


def post_test(client, study_id, sample, time_started):
    body = load_sample(sample, study_id)
    body["time_started"] = time_started
    response = client.post("/tests", json=body)
    assert response.status_code == 200, response.json
    return response.json


def csv_rows(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


@pytest.fixture
def batch(app, admin):
    """25 participants x (1 baseline + 2 follow-ups) created through the dashboard in one go."""
    page = admin.get("/admin/studies/new").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = admin.post(
        "/admin/studies/new",
        data={
            "csrf_token": token,
            "participant_ids": "\n".join(PARTICIPANTS),
            "baselines_per_participant": "1",
            "followups_per_participant": "2",
        },
    )
    assert response.status_code == 303
    batch_id = response.headers["Location"].rsplit("/", 1)[-1]
    with app.app_context():
        created = list(db.studies().find({"batch_id": batch_id}, {"_id": 0}))
    return batch_id, created


def numbered(created, participant_id):
    """{number: study_id} of one participant's follow-ups, from the database."""
    return {
        s["followup_number"]: s["study_id"]
        for s in created
        if s["participant_id"] == participant_id and s["study_type"] == "followup"
    }


def test_a_batch_numbers_each_participants_followups_in_the_order_it_lists_them(batch):
    batch_id, created = batch
    assert len({s["created_at"] for s in created}) == 1  # one creation time for all of them
    for participant_id in PARTICIPANTS:
        mine = [s for s in created if s["participant_id"] == participant_id]
        assert [(s["study_type"], s.get("followup_number")) for s in mine] == [
            ("baseline", None),
            ("followup", 1),
            ("followup", 2),
        ]


def test_every_page_and_file_says_the_same_followup_k_for_the_same_study(app, admin, batch):
    batch_id, created = batch
    # C07 uses only the link of Follow-up 2, as in the issue: the grid once showed it as
    # "Follow-up 1: not started, Follow-up 2: in progress" the wrong way round.
    links = numbered(created, "C07")
    baseline = next(
        s for s in created if s["participant_id"] == "C07" and not s.get("followup_number")
    )
    post_test(admin, baseline["study_id"], "immediate_recall", "2026-01-10T09:00:00.000Z")
    post_test(admin, links[2], "immediate_recall", "2026-07-10T09:00:00.000Z")
    second, first = links[2], links[1]

    # The batch page lists each study with its label, in creation order.
    page = admin.get(f"/admin/batches/{batch_id}").get_data(as_text=True)
    row_of = {
        study_id: label
        for label, study_id in re.findall(
            r"<td>(Baseline|Follow-up \d)</td>\s*<td><code class=\"copyable\">([a-z]+)</code>", page
        )
    }
    assert (row_of[first], row_of[second]) == ("Follow-up 1", "Follow-up 2")

    # The batch's CSV and studies.csv carry the number.
    for path in (f"/admin/batches/{batch_id}/studies.csv",):
        rows = {r["study_id"]: r for r in csv_rows(admin.get(path).data)}
        assert (rows[first]["followup_number"], rows[second]["followup_number"]) == ("1", "2")
    download = admin.post(
        "/studies/download-file", data={"password": TEST_PASSWORD, "participant_id": "C07"}
    )
    rows = {r["study_id"]: r for r in csv_rows(download.data)}
    assert (rows[first]["followup_number"], rows[second]["followup_number"]) == ("1", "2")

    # The progress grid: Follow-up 1 not started, Follow-up 2 in progress.
    grid = admin.get("/admin/progress?q=C07").get_data(as_text=True)
    heads = re.findall(r'class="grid__group">([^<]+)</th>', grid)
    assert heads == ["Baseline", "Follow-up 1", "Follow-up 2"]
    cells = re.findall(
        r'state state--(\w+)">[^<]*</span>\s*'
        r'<span class="study-id"><code class="copyable">([a-z]+)',
        grid,
    )
    assert [study_id for _, study_id in cells] == [baseline["study_id"], first, second]
    assert [state for state, _ in cells] == ["in_progress", "not_started", "in_progress"]

    # The participant page names each study.
    participant = admin.get("/admin/participants/C07").get_data(as_text=True)
    assert re.search(rf"Follow-up 1\s*<code class=\"copyable\">{first}</code>", participant)
    assert re.search(rf"Follow-up 2\s*<code class=\"copyable\">{second}</code>", participant)

    # Scores page and printable report: the column headed Follow-up 2 is the second link.
    for path in ("/admin/participants/C07/scores", "/admin/participants/C07/report"):
        text = admin.get(path).get_data(as_text=True)
        assert re.search(rf"Follow-up 1\s*<span class=\"score-table__study\"><code>{first}", text)
        assert re.search(rf"Follow-up 2\s*<span class=\"score-table__study\"><code>{second}", text)

    # change.csv: one row per follow-up, numbered as created; the change is on Follow-up 2.
    change = admin.post(
        "/tests/zip-archive/download-file",
        data={"password": TEST_PASSWORD, "participant_id": "C07"},
    )
    archive = zipfile.ZipFile(io.BytesIO(change.data))
    rows = csv_rows(archive.read("change.csv"))
    assert [(r["followup_number"], r["followup_study_id"]) for r in rows] == [
        ("1", first),
        ("2", second),
    ]
    assert rows[0]["ir_score_change"] == ""
    assert rows[1]["ir_score_change"] != ""
    summary = {r["study_id"]: r for r in csv_rows(archive.read("summary.csv"))}
    assert (summary[first]["followup_number"], summary[second]["followup_number"]) == ("1", "2")
    tests_csv = csv_rows(archive.read("immediate_recall.csv"))
    assert {r["study_id"]: r["followup_number"] for r in tests_csv} == {
        baseline["study_id"]: "",
        second: "2",
    }


def test_the_scores_page_never_pools_followup_1_and_2(app, admin, make_study, make_test):
    for participant_id in ("P1", "P2"):
        base = make_study(participant_id, "baseline")
        make_test(
            base,
            "immediate_recall",
            result={"ir_score": 0, "ir_rt_first": 7000, "ir_rt_second": None},
        )
        one = make_study(participant_id, "followup")
        two = make_study(participant_id, "followup")
        make_test(
            one,
            "immediate_recall",
            result={"ir_score": 1, "ir_rt_first": 7000, "ir_rt_second": None},
        )
        make_test(
            two,
            "immediate_recall",
            result={"ir_score": 2, "ir_rt_first": 7000, "ir_rt_second": None},
        )
    page = admin.get("/admin/scores").get_data(as_text=True)
    assert (
        "Immediate recall: score. Baseline: n = 2, median 0; "
        "Follow-up 1: n = 2, median 1; Follow-up 2: n = 2, median 2" in page
    )
    assert re.search(
        r"Change to follow-up 2</th><td class=\"number\">2</td><td class=\"number\">\+2", page
    )


def test_followups_added_later_continue_the_numbers(app):
    with app.app_context():
        studies.create_studies(["A1", "B2"], baselines=1, followups=1)
        later = studies.create_studies(["A1"], baselines=0, followups=2)
        assert [s["followup_number"] for s in later] == [2, 3]


def test_the_api_answers_the_number(client):
    response = client.post(
        "/studies",
        data={"password": TEST_PASSWORD, "participant_ids": "P9", "followups_per_participant": "2"},
    )
    assert [s.get("followup_number") for s in response.json] == [None, 1, 2]


def test_a_number_taken_meanwhile_is_drawn_again(app, monkeypatch):
    """Two creations for one participant at once: the unique index refuses the loser's number."""
    real = studies.number_new_studies
    raced = []

    def then_a_rival_takes_number_1(new):
        real(new)
        if not raced:
            raced.append(True)
            studies.create_studies(["P1"], baselines=0, followups=1)

    monkeypatch.setattr(studies, "number_new_studies", then_a_rival_takes_number_1)
    with app.app_context():
        created = studies.create_studies(["P1"], baselines=1, followups=1)
        stored = sorted(
            (s["followup_number"], s["batch_id"] == created[0]["batch_id"])
            for s in db.studies().find({"study_type": "followup"})
        )
    assert [s.get("followup_number") for s in created] == [None, 2]
    assert stored == [(1, False), (2, True)]


# --- studies stored before numbers existed ------------------------------------------------


def legacy_study(study_id, participant_id, created_at, study_type="followup"):
    return {
        "study_id": study_id,
        "participant_id": participant_id,
        "study_type": study_type,
        "url": f"http://localhost:5173/{study_id}",
        "created_at": created_at,
        "batch_id": "old",
    }


@pytest.fixture
def embedded_config(app_config):
    app_config["DB_CONNECTION_STR"] = ""
    return app_config


def test_start_up_numbers_old_followups_by_creation_then_position_in_the_batch(embedded_config):
    day = datetime(2025, 6, 1, tzinfo=UTC)
    old = create_app(embedded_config)
    with old.app_context():
        # Inserted as an old version did: one batch at one time (ids not in list order), then a
        # later batch; a participant whose tests and refused submissions predate numbers too.
        db.studies().insert_many(
            [
                legacy_study("zzzzzzzz", "P1", day),
                legacy_study("aaaaaaaa", "P1", day),
                legacy_study("mmmmmmmm", "P1", day - timedelta(days=3), "baseline"),
                legacy_study("cccccccc", "P1", day + timedelta(days=30)),
                legacy_study("bbbbbbbb", "P2", day + timedelta(days=1)),
                legacy_study("yyyyyyyy", "P2", day),
            ]
        )
        db.tests().insert_one(
            {"test_id": "t1", "study_id": "aaaaaaaa", "study_type": "followup", "fingerprint": "f"}
        )
        db.quarantine().insert_one({"quarantine_id": "q1", "study_id": "cccccccc"})
        # What start-up did for this app ran before the documents existed: undo nothing, just
        # check they are unnumbered until the next start.
        assert db.studies().count_documents({"followup_number": {"$gt": 0}}) == 0

    restarted = create_app(embedded_config)
    with restarted.app_context():
        found = {s["study_id"]: s.get("followup_number") for s in db.studies().find()}
        assert found == {
            "zzzzzzzz": 1,  # first in its batch
            "aaaaaaaa": 2,
            "mmmmmmmm": None,  # a baseline has no number
            "cccccccc": 3,  # a later batch
            "yyyyyyyy": 1,  # P2: created first, though inserted later
            "bbbbbbbb": 2,
        }
        assert db.tests().find_one({"test_id": "t1"})["followup_number"] == 2
        assert db.quarantine().find_one({"quarantine_id": "q1"})["followup_number"] == 3
        # Idempotent: a second run (another worker, the next start) changes nothing.
        assert migrations.run() == {"followup numbers": 0}
        # A follow-up added now continues after the old ones.
        assert studies.create_studies(["P1"], 0, 1)[0]["followup_number"] == 4


def test_a_followup_added_before_the_upgrade_ran_still_comes_after_the_old_ones(app):
    with app.app_context():
        db.studies().insert_one(legacy_study("oldoldol", "P1", datetime(2025, 1, 1, tzinfo=UTC)))
        new = studies.create_studies(["P1"], 0, 1)
        assert new[0]["followup_number"] == 2
        assert db.studies().find_one({"study_id": "oldoldol"})["followup_number"] == 1


def test_a_restored_backup_from_an_older_version_is_numbered(app, runner, tmp_path):
    with app.app_context():
        db.studies().insert_one(legacy_study("oldoldol", "P1", datetime(2025, 1, 1, tzinfo=UTC)))
    backup = tmp_path / "old.bson.gz"
    assert runner.invoke(args=["backup", str(backup)]).exit_code == 0
    result = runner.invoke(args=["restore", "--force", str(backup)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.studies().find_one({"study_id": "oldoldol"})["followup_number"] == 1


def test_labels():
    assert followups.label("baseline") == "Baseline"
    assert followups.label("followup", 3) == "Follow-up 3"
    assert followups.label("followup", None) == "Follow-up"
