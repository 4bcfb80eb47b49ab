# The verbs a newcomer looks for. Every target installs the pinned requirements into .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: install serve test test-fast train bench lint clean migrate export-feedback promote

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

serve: install  ## serve the default model on http://127.0.0.1:$(PORT)
	PORT=$(PORT) $(BIN)/gunicorn --config gunicorn.conf.py 'api:create_app()'

test: install  ## run the whole test suite
	$(BIN)/python -m pytest

test-fast: install  ## skip the tests that train on real data or start servers
	$(BIN)/python -m pytest -m "not slow"

train: install  ## retrain on ../shared/data (or $$EXPOSURE_DATA_DIR) and make it the default
	$(BIN)/python -m training.train --set-default

bench: install  ## measure scoring throughput in-process, over HTTP, and of files and Spark
	$(BIN)/python -m training.bench
	$(BIN)/python -m training.bench_batch

migrate: install  ## bring the database ($$EXPOSURE_DATABASE_URL, else instance/) to the latest schema
	$(BIN)/alembic upgrade head

export-feedback: install  ## write the stored feedback as labelled data to feedback.jsonl
	$(BIN)/python -m training.export_feedback --output feedback.jsonl

promote: install  ## make VERSION the default if it is no worse than the current one
	$(BIN)/python -m training.promote $(VERSION)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
