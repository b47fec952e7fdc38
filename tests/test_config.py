"""Settings: defaults, validation, and the refusal to start without real secrets."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from intact import config, create_app

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def test_defaults_keep_the_original_names_and_values():
    settings = config.from_environ({})
    assert settings["DB_NAME"] == "intact"
    assert settings["DB_CONNECTION_STR"] == ""
    assert settings["DATA_DIR"] == "instance/data"
    assert settings["CORS_FRONTEND_ORIGIN"] == "https://intact.sail.codes"
    assert settings["PORT"] == 8000
    assert settings["MAX_CONTENT_LENGTH"] == 1024 * 1024


@pytest.mark.parametrize(
    ("name", "value", "complaint"),
    [
        ("PORT", "eighty", "PORT must be a whole number"),
        ("PORT", "0", "PORT must be at least 1"),
        ("LOCAL_MODE", "maybe", "LOCAL_MODE must be true or false"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL must be"),
    ],
)
def test_invalid_settings_are_named(name, value, complaint):
    with pytest.raises(config.ConfigError, match=complaint):
        config.from_environ({name: value})


@pytest.mark.parametrize("uri", ["mongodb://db.example/", "mongodb+srv://cluster.example/"])
def test_mongodb_needs_a_timeout_its_driver_can_keep(uri):
    # pymongo looks for a returning server every 500 ms and can overrun its timeout by that much.
    with pytest.raises(config.ConfigError, match="DB_TIMEOUT_MS must be at least 1000"):
        config.from_environ({"DB_CONNECTION_STR": uri, "DB_TIMEOUT_MS": "999"})
    assert config.from_environ({"DB_CONNECTION_STR": uri, "DB_TIMEOUT_MS": "1000"})
    # The embedded store only waits for a file lock: a short wait is fine there.
    assert config.from_environ({"DB_TIMEOUT_MS": "100"})["DB_TIMEOUT_MS"] == 100


def test_a_connection_string_of_no_known_store_is_refused_without_its_password():
    with pytest.raises(config.ConfigError, match="DB_CONNECTION_STR must be") as refused:
        config.from_environ({"DB_CONNECTION_STR": "mongo://admin:hunter2@db.example:27017/"})
    assert "hunter2" not in str(refused.value)


@pytest.mark.parametrize(
    ("password", "secret_key", "complaint"),
    [
        ("", "key", "ADMIN_PASSWORD is unset"),
        ("password", "key", "ADMIN_PASSWORD is unset or 'password'"),
        ("s3cret-enough", "", "SECRET_KEY is unset"),
    ],
)
def test_app_refuses_to_start_without_secrets(app_config, password, secret_key, complaint):
    app_config.update(ADMIN_PASSWORD=password, SECRET_KEY=secret_key)
    with pytest.raises(config.ConfigError, match=complaint):
        create_app(app_config)


def test_local_mode_generates_secrets_once_and_keeps_them(app_config):
    app_config.update(LOCAL_MODE="1", ADMIN_PASSWORD="", SECRET_KEY="")
    first = create_app(app_config)
    second = create_app(app_config)
    assert len(first.config["ADMIN_PASSWORD"]) >= 12
    assert first.config["ADMIN_PASSWORD"] == second.config["ADMIN_PASSWORD"]
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    stored = Path(app_config["DATA_DIR"], config.LOCAL_SECRETS_FILE)
    assert json.loads(stored.read_text())["ADMIN_PASSWORD"] == first.config["ADMIN_PASSWORD"]
    assert stored.stat().st_mode & 0o077 == 0, "the secrets file is readable by others"


def test_local_mode_keeps_a_password_that_was_set(app_config):
    app_config.update(LOCAL_MODE="true", ADMIN_PASSWORD="mine-and-long", SECRET_KEY="")
    assert create_app(app_config).config["ADMIN_PASSWORD"] == "mine-and-long"


def _gunicorn_check(tmp_path, **env):
    environ = {**os.environ, "DATA_DIR": str(tmp_path), "LOCAL_MODE": "0", **env}
    return subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--check-config", "wsgi:app"],
        cwd=PROJECT_ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_server_exits_with_a_clear_message_without_secrets(tmp_path):
    done = _gunicorn_check(tmp_path, ADMIN_PASSWORD="password", SECRET_KEY="")
    assert done.returncode != 0
    assert "Refusing to start outside local mode" in done.stderr
    assert "ADMIN_PASSWORD" in done.stderr
    assert "SECRET_KEY" in done.stderr


def test_server_starts_with_secrets(tmp_path):
    done = _gunicorn_check(
        tmp_path,
        ADMIN_PASSWORD="a-real-password",
        SECRET_KEY="k" * 32,
        DB_CONNECTION_STR="mongomock://",
    )
    assert done.returncode == 0, done.stderr


def _gunicorn_workers(tmp_path, **env) -> dict:
    """gunicorn's worker settings as gunicorn.conf.py chooses them for this environment."""
    done = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--print-config", "wsgi:app"],
        cwd=PROJECT_ROOT,
        env={
            **os.environ,
            "DATA_DIR": str(tmp_path),
            "LOCAL_MODE": "0",
            "ADMIN_PASSWORD": "a-real-password",
            "SECRET_KEY": "k" * 32,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    printed = dict(line.split(" = ", 1) for line in done.stdout.splitlines() if " = " in line)
    printed = {key.strip(): value.strip() for key, value in printed.items()}
    return {key: printed[key] for key in ("workers", "worker_class")}


def test_gunicorn_runs_one_worker_on_the_embedded_store(tmp_path):
    workers = _gunicorn_workers(tmp_path, DB_CONNECTION_STR="", WEB_CONCURRENCY="5")
    # One process (the store's SQLite handles belong to its thread), one greenlet per connection.
    assert workers == {"workers": "1", "worker_class": "gevent"}


def test_gunicorn_runs_web_concurrency_workers_on_mongodb(tmp_path):
    # Nothing listens on port 9: the shortest timeout lets the app give up on it soonest.
    workers = _gunicorn_workers(
        tmp_path,
        DB_CONNECTION_STR="mongodb://127.0.0.1:9/",
        DB_TIMEOUT_MS="1000",
        WEB_CONCURRENCY="5",
    )
    assert workers == {"workers": "5", "worker_class": "gevent"}


# Modules that must not be loaded before gevent patches a worker (PyMongo: patch first).
DRIVERS = ("pymongo", "bson", "litemongo", "mongomock", "flask", "werkzeug", "jinja2", "gevent")


@pytest.mark.parametrize("uri", ["", "mongodb://127.0.0.1:9/"])
def test_gunicorns_master_imports_no_database_driver(tmp_path, uri):
    # What gunicorn's master runs: gunicorn.conf.py. Its imports stay in every forked worker.
    probe = (
        "import runpy, sys\n"
        "runpy.run_path('gunicorn.conf.py')\n"
        "print(' '.join(sorted({name.split('.')[0] for name in sys.modules})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=PROJECT_ROOT,
        env={**os.environ, "DATA_DIR": str(tmp_path), "LOCAL_MODE": "1", "DB_CONNECTION_STR": uri},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    loaded = set(done.stdout.split())
    assert "intact" in loaded
    assert loaded.isdisjoint(DRIVERS), loaded & set(DRIVERS)


def test_local_mode_generates_a_pseudonym_key_once_even_for_an_older_data_dir(app_config):
    # A DATA_DIR from before de-identified exports: its secrets file has no pseudonym key.
    Path(app_config["DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    Path(app_config["DATA_DIR"], config.LOCAL_SECRETS_FILE).write_text(
        json.dumps({"ADMIN_PASSWORD": "kept-from-before", "SECRET_KEY": "kept"})
    )
    app_config.update(LOCAL_MODE="1", ADMIN_PASSWORD="", SECRET_KEY="", PSEUDONYM_KEY="")
    first = create_app(app_config)
    second = create_app(app_config)
    assert first.config["ADMIN_PASSWORD"] == "kept-from-before"
    assert len(first.config["PSEUDONYM_KEY"]) >= config.PSEUDONYM_KEY_MIN_LENGTH
    assert first.config["PSEUDONYM_KEY"] == second.config["PSEUDONYM_KEY"]
    stored = Path(app_config["DATA_DIR"], config.LOCAL_PSEUDONYM_KEY_FILE)
    assert stored.stat().st_mode & 0o077 == 0, "the key file is readable by others"


def test_a_pseudonym_key_that_was_set_is_kept_and_a_short_one_refused(app_config):
    app_config.update(LOCAL_MODE="1", PSEUDONYM_KEY="k" * 40)
    assert create_app(app_config).config["PSEUDONYM_KEY"] == "k" * 40
    app_config.update(PSEUDONYM_KEY="short")
    with pytest.raises(config.ConfigError, match="PSEUDONYM_KEY must be at least 32"):
        create_app(app_config)


def test_outside_local_mode_the_app_starts_without_a_pseudonym_key(app_config):
    # A deployment switching over from the original backend has none: it still starts.
    app_config.update(LOCAL_MODE="0", PSEUDONYM_KEY="")
    assert create_app(app_config).config["PSEUDONYM_KEY"] == ""


def test_local_mode_writes_no_secrets_file_when_every_secret_is_set(app_config):
    # A deployment run with LOCAL_MODE but its own secrets: nothing lands in its DATA_DIR.
    app_config.update(
        LOCAL_MODE="1", ADMIN_PASSWORD="mine-and-long", SECRET_KEY="key", PSEUDONYM_KEY="k" * 40
    )
    create_app(app_config)
    folder = Path(app_config["DATA_DIR"])
    for name in (config.LOCAL_SECRETS_FILE, config.LOCAL_PSEUDONYM_KEY_FILE):
        assert not (folder / name).exists(), name


def test_local_mode_generates_only_the_missing_pseudonym_key(app_config):
    app_config.update(
        LOCAL_MODE="1", ADMIN_PASSWORD="mine-and-long", SECRET_KEY="key", PSEUDONYM_KEY=""
    )
    made = create_app(app_config)
    folder = Path(app_config["DATA_DIR"])
    assert not (folder / config.LOCAL_SECRETS_FILE).exists()
    stored = json.loads((folder / config.LOCAL_PSEUDONYM_KEY_FILE).read_text())
    assert stored == {"PSEUDONYM_KEY": made.config["PSEUDONYM_KEY"]}
