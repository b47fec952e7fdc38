"""The README's command lines work as printed, right after `make run`.

A developer copies them from the README into a shell in the project folder. Here the project is
copied into a fresh folder (its `.venv` linked in), the app is started as `make run` starts it
(gunicorn, LOCAL_MODE=1, the embedded store in the default DATA_DIR), and every command line
that uses the project's `.venv/bin/flask` — in a shell block or inline — is run with bash, in
README order, exactly as written. It must succeed, unless its comment says it "exits 1" there (a
command that needs settings a fresh install lacks): then it must fail, saying why. A line that
needs a file names one the README asks for (`ids.txt`, the researcher's list); anything else it
needs, it makes itself.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT, Gunicorn, free_port, http_json

README = PROJECT_ROOT / "README.md"
FLASK = ".venv/bin/flask"
# What `make run` needs in the project folder (the rest of the checkout plays no part).
PROJECT_FILES = ("wsgi.py", "gunicorn.conf.py", ".flaskenv", "intact", "templates", "static")
# Settings a developer's shell would not have set; everything else comes from the project.
CLEARED = ("DB_CONNECTION_STR", "DB_NAME", "DATA_DIR", "LOCAL_MODE", "ADMIN_PASSWORD",
           "SECRET_KEY", "FLASK_APP", "HOST", "PORT", "LOG_LEVEL")  # fmt: skip


def readme_command_lines(text: str) -> list[str]:
    """Every line of a shell block, and every inline code span, that runs the project's flask."""
    found = []
    blocks = re.split(r"^```[^\n]*\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)
    for index, part in enumerate(blocks):
        if index % 2:  # inside a fenced block
            found += [line.strip() for line in part.splitlines() if FLASK in line]
        else:
            found += [span for span in re.findall(r"`([^`\n]+)`", part) if FLASK in span]
    return found


def test_the_readme_never_writes_a_bare_flask():
    text = README.read_text(encoding="utf-8")
    bare = re.findall(r"[^\n]{0,30}(?<![\w./-])flask\b(?!\.)[^\n]{0,30}", text)
    assert bare == [], "write the project's .venv/bin/flask --app wsgi, not a bare flask"


def test_the_readme_documents_every_command_it_has():
    from intact import create_app

    app = create_app(
        {"DB_CONNECTION_STR": "mongomock://", "ADMIN_PASSWORD": "x" * 16, "SECRET_KEY": "y"}
    )
    documented = " ".join(readme_command_lines(README.read_text(encoding="utf-8")))
    ours = set(app.cli.list_commands(None)) - {"routes", "run"}
    missing = [name for name in ours if f"--app wsgi {name}" not in documented]
    assert missing == [], f"commands the README never shows: {missing}"


@pytest.fixture
def project(tmp_path):
    """A copy of the project to run the README in, with this checkout's .venv linked in."""
    folder = tmp_path / "intact-backend"
    folder.mkdir()
    for name in PROJECT_FILES:
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, folder / name)
    (folder / ".venv").symlink_to(Path(sys.executable).parent.parent)
    (folder / "ids.txt").write_text("participant_id\nP001\nP002\n", encoding="utf-8")
    return folder


def test_every_readme_command_line_works_as_printed_after_make_run(project):
    import os

    lines = readme_command_lines(README.read_text(encoding="utf-8"))
    assert len(lines) >= 8
    environment = {key: value for key, value in os.environ.items() if key not in CLEARED}
    # `make run` as the Makefile writes it, on a free port (others test on this machine too).
    served = dict(environment, LOCAL_MODE="1", PORT=str(free_port()), LOG_LEVEL="WARNING")
    with Gunicorn(served, cwd=project) as server:
        for line in lines:
            ran = subprocess.run(
                ["bash", "-c", line],
                cwd=project,
                env=environment,
                input="",
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            # A line the README says fails right after `make run` (no mail settings yet) must
            # fail, and say why.
            expected = 1 if re.search(r"#.*\bexits 1\b", line) else 0
            assert ran.returncode == expected, f"{line}\n{ran.stdout[-1500:]}\n{ran.stderr[-3000:]}"
            assert not expected or ran.stderr.strip(), f"{line} failed without saying why"
        assert http_json(f"{server.url}/healthz")[0] == 200
    written = {path.name for path in (project / "exports").iterdir()}
    assert {"new-studies.csv", "intact-data.zip", "summary.csv"} <= written
    assert list((project / "backups").glob("intact-backup-*.bson.gz"))
