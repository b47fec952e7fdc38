"""Participant data and secrets stay out of git and out of the Docker image.

Backups, downloads, exports, the embedded store and generated secrets are written inside the
project folder by the README's own commands; none of it may show in `git status` or be copied
into the image. The image copies only what the app runs, and that is enough to run it.
"""

import fnmatch
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# What the README's commands and `make run` write in the project folder.
SENSITIVE = [
    ".env",
    ".env.production",
    "instance/data/local-secrets.json",
    "instance/data/local-pseudonym-key.json",
    "instance/data/db/tests.sqlite",
    "backups/intact-backup-20261122T015752Z.bson.gz",
    "backups/intact-20261122T015752Z.archive.gz",
    "exports/summary.csv",
    "before-upgrade.bson.gz",
    "intact-data-P001-20261122T015752Z.zip",
    "intact-scores-20261122T015752Z.xlsx",
    "intact-redcap-since-20261101T000000Z-to-20261122T015752Z.zip",
    "studies-new-20261122-015752.csv",
    "new-studies.csv",
]


def test_git_ignores_data_and_secrets():
    if shutil.which("git") is None or not (PROJECT_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    checked = subprocess.run(
        ["git", "check-ignore", "--no-index", *SENSITIVE, ".env.example"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    ignored = set(checked.stdout.split())
    assert set(SENSITIVE) - ignored == set()
    assert ".env.example" not in ignored


def test_git_ignores_no_new_file_in_the_projects_own_folders():
    """An ignore pattern meant for data at the top (`exports/`) once also matched
    `intact/exports/`: a new module there was left out of git, and out of ruff's lint."""
    if shutil.which("git") is None or not (PROJECT_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    folders = sorted({str(Path(path).parent) for path in tracked})
    new_files = [f"{folder}/a_new_module.py" for folder in folders]
    checked = subprocess.run(
        ["git", "check-ignore", "--no-index", *new_files],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.stdout.split() == []


def dockerignore_excludes(path: str, patterns: list[str]) -> bool:
    """Docker's rule, enough for these patterns: anchored at the root, `**/` any folders deep,
    and a folder excluded with everything in it."""
    for pattern in patterns:
        candidates = [path, *("/".join(path.split("/")[:n]) for n in range(1, path.count("/") + 1))]
        if pattern.startswith("**/"):
            tail = pattern[3:]
            if any(fnmatch.fnmatch(part, tail) for part in path.split("/")):
                return True
        elif any(fnmatch.fnmatch(candidate, pattern) for candidate in candidates):
            return True
    return False


def test_the_docker_build_context_leaves_data_and_secrets_out():
    lines = (PROJECT_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    for path in [*SENSITIVE, "nested/backups/x.bson.gz"]:
        assert dockerignore_excludes(path, patterns), path


def image_sources() -> list[str]:
    """What the Dockerfile copies into the code directory, after installing the requirements."""
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
    sources = []
    for line in dockerfile.splitlines():
        match = re.match(r"(COPY|ADD)\s+(?:--\S+\s+)*(.+)", line.strip())
        if match:
            *copied, _destination = match.group(2).split()
            sources += copied
    return sources


def test_the_image_copies_only_what_it_runs():
    sources = image_sources()
    assert "." not in sources and "./" not in sources, "COPY . . takes whatever is in the folder"
    assert set(sources) == {
        "requirements.txt",
        "wsgi.py",
        "gunicorn.conf.py",
        "intact/",
        "templates/",
        "static/",
    }


def test_what_the_image_copies_is_enough_to_run_the_app(tmp_path):
    """The copied files alone serve the dashboard, its assets and the API docs."""
    for source in image_sources():
        if source.endswith("/"):
            shutil.copytree(
                PROJECT_ROOT / source,
                tmp_path / source,
                ignore=shutil.ignore_patterns("__pycache__"),
            )
        else:
            shutil.copy2(PROJECT_ROOT / source, tmp_path / source)
    script = """
from intact import create_app
app = create_app({"DB_CONNECTION_STR": "mongomock://", "ADMIN_PASSWORD": "x" * 16,
                  "SECRET_KEY": "y" * 32, "DATA_DIR": "data"})
client = app.test_client()
for path in ("/healthz", "/admin/login", "/static/admin.css", "/docs", "/openapi.json"):
    status = client.get(path).status_code
    assert status == 200, (path, status)
print("served")
"""
    ran = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.stdout.strip().endswith("served"), ran.stderr[-2000:]
