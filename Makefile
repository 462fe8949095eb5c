# Two commands: `make run` (set up, index, start the chat) and `make test` (set up, run all tests).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test setup index eval bench load-test chromium clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/qa serve

# The browser tests drive Debian's chromium through playwright (pip); `playwright install`
# is never used (it downloads its own browser build). Installing needs root (as on CI).
chromium:
	@command -v chromium >/dev/null 2>&1 || (apt-get update && apt-get install -y chromium)

test: $(STAMP) chromium
	$(PY) -m pytest -q

index: $(STAMP)
	$(VENV)/bin/qa index

bench: $(STAMP)
	$(PY) benchmarks/latency.py

load-test: $(STAMP) chromium
	$(PY) benchmarks/load_test.py

clean:
	rm -rf $(VENV) embeddings eval-out
