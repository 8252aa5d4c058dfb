# Set-up, build and test targets.  Every target installs what it needs first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup data book browser test reproduce cross-kernel test-fast lint bench notebooks lab clean
# nbval compares every printed number where this machine's numerics (BLAS kernel, library
# versions) are those the committed outputs record, and masks numbers elsewhere.
NBVAL = --nbval --nbval-current-env --nbval-sanitize-with "$$($(PY) scripts/nbval_sanitize.py notebooks/[0-9][0-9]_*.ipynb)"
REPRODUCE_CACHE := $(CURDIR)/.cache/reproduce-models

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
	AUTOENCODER_PROGRESS=0 $(PY) -m pytest -m "" -p no:cacheprovider $(NBVAL) tests notebooks
	$(MAKE) reproduce

# Chapter 1 (400 L-BFGS iterations at the UFLDL setting) re-executed from an empty model cache
# on 4 evaluation workers must print what the committed notebook, executed on 2, printed.
# (No progress bars under nbval: a bar would be an extra output.)
reproduce: setup
	rm -rf $(REPRODUCE_CACHE)
	AUTOENCODER_PROGRESS=0 AUTOENCODER_CACHE_DIR=$(REPRODUCE_CACHE) AUTOENCODER_WORKERS=4 \
	  $(PY) -m pytest -p no:cacheprovider $(NBVAL) notebooks/01_sparse_autoencoder.ipynb
	rm -rf $(REPRODUCE_CACHE)

# Every chapter under nbval on another OpenBLAS kernel (set for this measurement only), from an
# empty model cache, with the portable rules: KERNEL=name picks the kernel (default: one other than
# this machine's).  A measurement, not part of `make test`.
cross-kernel: data
	$(PY) scripts/cross_kernel.py $(if $(KERNEL),--kernel $(KERNEL))

# Re-execute the committed notebooks in place with their default parameters.
# No progress bars in the kept outputs; the numerics they were produced with are recorded.
notebooks: data
	for nb in notebooks/[0-9][0-9]_*.ipynb; do \
	  AUTOENCODER_PROGRESS=0 $(VENV)/bin/jupyter execute --inplace --timeout=1800 $$nb || exit 1; \
	done
	$(PY) scripts/record_environment.py notebooks/[0-9][0-9]_*.ipynb

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
