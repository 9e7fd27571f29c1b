# The two commands: `make app` (set up, start the app on the embedded default) and `make test`.
PYTHON ?= python3
SQUAD ?= $(abspath ../shared/data/squad/dev-v1.1.json.gz)
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export WORKBENCH_SQUAD_PATH ?= $(SQUAD)

.PHONY: install install-dev app test lint bench

install:
	$(PYTHON) -m pip install --quiet torch==2.13.0
	$(PYTHON) -m pip install --quiet -r requirements.txt
	$(PYTHON) -m ragkit.prepare_models

install-dev:
	$(PYTHON) -m pip install --quiet torch==2.13.0
	$(PYTHON) -m pip install --quiet -r requirements-dev.txt
	$(PYTHON) -m ragkit.prepare_models

app: install
	$(PYTHON) -m streamlit run app.py --server.address 127.0.0.1 --server.port 8501

test: install-dev
	$(PYTHON) -m pytest -q

lint:
	$(PYTHON) -m ruff check .

bench: install
	$(PYTHON) bench/ingest_squad.py
