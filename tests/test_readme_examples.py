"""The README's Python (requests) and curl examples for /api/v1, run against a live server."""

import os
import re
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import TEST_PASSWORD, make_account, make_token, serving, stored_test

from intact import create_app, db

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_example(language: str) -> str:
    """The code block the README marks with <!-- example: language -->."""
    text = README.read_text(encoding="utf-8")
    found = re.search(rf"<!-- example: {language} -->\n```{language}\n(.*?)```", text, re.S)
    assert found, f"README has no block marked <!-- example: {language} -->"
    return found.group(1)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """A live server with a few tests stored, and a read token of a researcher."""
    app = create_app(
        {
            "DB_CONNECTION_STR": "mongomock://",
            "ADMIN_PASSWORD": TEST_PASSWORD,
            "SECRET_KEY": "readme-secret",
            "DATA_DIR": str(tmp_path_factory.mktemp("data")),
        }
    )
    study = {
        "study_id": "abcdefgh",
        "participant_id": "P001",
        "study_type": "baseline",
        "url": "http://localhost:5173/abcdefgh",
        "created_at": datetime.now(UTC),
        "batch_id": "readme",
    }
    with app.app_context():
        db.studies().insert_one(dict(study))
        db.tests().insert_many(
            [stored_test(study, kind) for kind in ("immediate_recall", "choice_reaction_time")]
        )
    token = make_token(app, make_account(app, "script@example.org", "researcher"), "read")
    with serving(app) as url:
        yield {"INTACT_URL": url, "INTACT_TOKEN": token}


def test_the_python_example_fetches_every_new_test(live, tmp_path):
    script = tmp_path / "nightly.py"
    script.write_text(readme_example("python"), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)],
        env={**os.environ, **live},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2 tests"


def test_the_curl_example_reads_the_summary_and_downloads_the_zip(live, tmp_path):
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", readme_example("sh")],
        env={**os.environ, **live},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert '"items"' in done.stdout and "P001" in done.stdout
    with zipfile.ZipFile(tmp_path / "intact.zip") as archive:
        assert "immediate_recall.csv" in archive.namelist()
