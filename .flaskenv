# Read by the project's `flask` command (.venv/bin/flask) when run from this folder, after the
# environment and .env, which win. It gives the command line the same local settings as
# `make run`: in local mode the secrets `make run` generated are read from DATA_DIR, so
# `.venv/bin/flask --app wsgi backup backups/` works right after `make run`. A deployment sets
# LOCAL_MODE=0 in its environment or .env (compose does), and that wins.
FLASK_APP=wsgi
LOCAL_MODE=1
