# Set-up, build and test targets.  Every target installs what it needs first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup data book browser test test-fast lint bench notebooks lab clean
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

setup: $(VENV)/.installed

data: setup
	$(PY) -m autoencoder.data fetch

# The book: execute every chapter with papermill (parameters from book/parameters.yml)
# into book/generated/, then jupyter-book build with warnings as errors.
book: data
	$(PY) scripts/build_book.py

# A Chromium for the browser tests: the one there, else Debian's chromium
# (apt-get, as root or with passwordless sudo), else Playwright's own download.
browser: setup
	$(PY) scripts/ensure_browser.py

# The whole suite: lint, unit and slow tests, nbval on the committed notebooks,
# papermill runs with small parameters, and browser tests of the built book
# and of the live chapter in JupyterLab.
test: browser book
	$(PY) -m ruff check .
	$(PY) -m pytest -m "" -p no:cacheprovider $(NBVAL) tests notebooks

# Re-execute the committed notebooks in place with their default parameters.
notebooks: data
	for nb in notebooks/[0-9][0-9]_*.ipynb; do \
	  $(VENV)/bin/jupyter execute --inplace --timeout=1800 $$nb || exit 1; \
	done

# JupyterLab on the notebooks; their kernel python3 is this environment's Python.
# (JupyterLab refuses to run as root unless told.)
lab: data
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

bench: setup
	$(PY) -m benchmarks

test-fast: setup
	$(PY) -m pytest -q

lint: setup
	$(PY) -m ruff check .

clean:
	rm -rf _build book/generated
