# Two commands on a fresh machine: `make run` serves the app, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.runtime-$(shell cat requirements.txt | cksum | cut -d' ' -f1)
DEV_STAMP := $(VENV)/.dev-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
# The MongoDB tests run against mongoeco, a MongoDB-compatible server that needs Python 3.13: the
# first python3.13 found (on PATH or installed by pyenv) gets a venv of its own.
MONGO_VENV ?= .venv-mongo
MONGO_STAMP := $(MONGO_VENV)/.installed-$(shell cat requirements-mongo.txt | cksum | cut -d' ' -f1)
MONGO_PYTHON ?= $(shell for candidate in python3.13 $(HOME)/.pyenv/versions/3.13*/bin/python3.13; do \
	$$candidate -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null \
	&& { echo $$candidate; break; }; done)
# The tests start and stop the server themselves (tests/conftest.py, MongoCompatibleServer).
ifeq ($(MONGO_PYTHON),)
MONGO_SERVER := mongo-server-missing
else
MONGO_SERVER := $(MONGO_STAMP)
endif

.PHONY: run test test-mongo mongo-server-missing lint format bench clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11 or newer is needed") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUNTIME_STAMP): requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

## run: serve the app with gunicorn on http://127.0.0.1:8000 (embedded database unless DB_CONNECTION_STR is set)
run: $(RUNTIME_STAMP)
	LOCAL_MODE=$${LOCAL_MODE:-1} $(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

## test: lint, then every test (the MongoDB ones on a MongoDB-compatible server where Python 3.13 is)
test: $(DEV_STAMP) lint $(MONGO_SERVER)
	MONGOECO_PYTHON=$(abspath $(MONGO_VENV))/bin/python $(BIN)/python -m pytest $(PYTEST_ARGS)

## test-mongo: only the tests that need a MongoDB server (TEST_MONGO_URI, else mongoeco)
test-mongo: $(DEV_STAMP) $(MONGO_SERVER)
	MONGOECO_PYTHON=$(abspath $(MONGO_VENV))/bin/python $(BIN)/python -m pytest -m mongo $(PYTEST_ARGS)

mongo-server-missing:
	@echo "*** Python 3.13 not found: the MongoDB tests will be SKIPPED. They need mongoeco" \
		"(a MongoDB-compatible server, Python 3.13 only: e.g. pyenv install 3.13)," \
		"or a MongoDB server named by TEST_MONGO_URI." >&2

$(MONGO_STAMP): requirements-mongo.txt
	rm -rf $(MONGO_VENV)
	$(MONGO_PYTHON) -m venv $(MONGO_VENV)
	$(MONGO_VENV)/bin/python -m pip install --quiet -r requirements-mongo.txt
	touch $@

lint: $(DEV_STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

## format: rewrite the code in the project's style and apply safe lint fixes
format: $(DEV_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) $(MONGO_VENV) .pytest_cache .ruff_cache
