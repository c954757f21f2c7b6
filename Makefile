# KlineLab: two entry points that work from a fresh clone (Python 3.11 on PATH).
#   make run   - create .venv, install, import the bundled sample, start the app on 127.0.0.1:8501
#   make test  - create .venv, install (plus the system packages the tests use, when allowed), ruff check, run every test
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
export KLINELAB_HOME ?= $(CURDIR)/workspace

.PHONY: install run test test-fast system-deps bench clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip >/dev/null
	$(PY) -m pip install -r requirements.txt
	touch $@

install: $(VENV)/.installed

system-deps:
	./scripts/system-deps.sh

run: install
	$(PY) -m engine data import-sample
	$(PY) scripts/serve.py

test: install system-deps
	$(PY) -m ruff check .
	$(PY) -m pytest -n 2 --dist loadfile

test-fast: install
	$(PY) -m pytest -m "not slow and not e2e"

bench: install
	$(PY) -m pip install -r benchmarks/requirements.txt
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache
