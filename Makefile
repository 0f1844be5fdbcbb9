# The TensorRT workbook. `make run` executes every notebook headless; `make test` runs every test.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
MODEL ?= efficientnet_lite0
BUILD ?= build
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
STAMP := $(VENV)/.installed
# A folder of wheels (`make wheelhouse`) to install from instead of the internet: make setup WHEELHOUSE=wheelhouse
WHEELHOUSE ?=
PIP_SOURCE := $(if $(WHEELHOUSE),--no-index --find-links $(abspath $(WHEELHOUSE)),)
# The student notebooks: each instructor notebook with its solutions replaced by hints (utils/exercises/student.py).
STUDENT := $(BUILD)/student
# The stubs mypy checks the TensorRT API against; scripts/prepare_tensorrt_stubs.py names the same version.
TRT_STUBS_VERSION := 10.13.0.35.1
STUBS_SRC := $(BUILD)/stubs-src
STUBS_STAMP := $(STUBS_SRC)/.installed-$(TRT_STUBS_VERSION)
export WORKBOOK_MODEL ?= $(MODEL)
export WORKBOOK_BUILD_DIR ?= $(abspath $(BUILD))
export MPLBACKEND ?= Agg
export PYTHONUNBUFFERED := 1

.PHONY: help setup run test unit notebooks-test student browser-test html wheelhouse typecheck lint bench lab clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(PIP_SOURCE) --upgrade pip
	# PyPI downloads are sometimes cut off mid-file (seen in CI: a 46 MB CUDA wheel stuck at 16 MB through pip's six
	# resumes); a new attempt starts that download again, and what is installed already is not installed twice.
	for attempt in 1 2 3; do \
	  $(PY) -m pip install --quiet --retries 10 $(PIP_SOURCE) -r requirements.txt -r requirements-dev.txt && break; \
	  if [ $$attempt = 3 ]; then echo "pip install failed 3 times; check the network (or use make setup WHEELHOUSE=dir)" >&2; exit 1; fi; \
	  echo "pip install failed (attempt $$attempt of 3); trying again in 30 s" >&2; sleep 30; \
	done
	# tensorrt-stubs never goes into the environment: its bare tensorrt/ folder would make `import tensorrt` succeed
	# and break libraries that probe for TensorRT. Older setups installed it here; remove it (no-op if absent).
	$(PY) -m pip uninstall --quiet -y tensorrt-stubs
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

setup: $(STAMP)  ## create .venv and install everything (runs once; again when requirements change)

run: setup  ## execute every notebook headless on $(MODEL); executed copies and figures go to build/
	mkdir -p $(BUILD)/notebooks
	printf "notebook,model,seconds\n" > $(BUILD)/notebooks/run_times.csv
	for notebook in $(NOTEBOOKS); do \
	  echo "== $$notebook ($(MODEL))"; \
	  started=$$(date +%s); \
	  $(PY) -m jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=1800 \
	    --output-dir $(BUILD)/notebooks "$$notebook"; \
	  echo "$$(basename $$notebook),$(MODEL),$$(( $$(date +%s) - started ))" >> $(BUILD)/notebooks/run_times.csv; \
	done
	@echo "Executed notebooks: $(BUILD)/notebooks (run times: run_times.csv); figures: $(BUILD)/figures"

test: setup unit typecheck lint notebooks-test browser-test  ## every test: unit, mypy, ruff, notebooks (nbval, and in JupyterLab)

unit: setup
	$(PY) -m pytest tests --durations=15

# The instructor notebooks under nbval, where every check passes. The student versions run in the browser test, where
# only the cells tagged raises-exception (an exercise's cell and its check cell) may raise: each lesson runs twice.
notebooks-test: setup  ## run the instructor notebooks with nbval
	$(PY) -m pytest --nbval-lax --nbval-current-env -p no:randomly --durations=10 notebooks

# One download for a room of machines: copy wheelhouse/ to each (USB stick, share), then make setup WHEELHOUSE=wheelhouse.
# The wheels are for this machine's Python version and platform; a room needs the same on every machine.
wheelhouse:  ## download every wheel setup installs into wheelhouse/ (for a lab with poor internet)
	$(PYTHON) -m pip download --quiet --dest wheelhouse pip setuptools -r requirements.txt -r requirements-dev.txt
	@echo "wheelhouse/: $$(ls wheelhouse | wc -l) files, $$(du -sh wheelhouse | cut -f1); install with: make setup WHEELHOUSE=wheelhouse"

# tests/browser is collected only when named (its conftest), so `unit` never starts a browser.
browser-test: setup  ## every lesson's student version run in JupyterLab in Chromium (Playwright); screenshots in build/browser
	$(PY) -m pytest -p no:randomly --durations=10 tests/browser

html: setup  ## the executed notebooks (make run) as static HTML with an index: build/html/index.html
	$(PY) scripts/render_html.py --source $(BUILD)/notebooks --out $(BUILD)/html

student: setup  ## the student notebooks in $(STUDENT): each solution replaced by its hint (nothing is executed)
	$(PY) -m utils student notebooks --out $(STUDENT)

# tensorrt-stubs only where mypy reads them: installed into $(STUBS_SRC) (once per version), repaired into $(BUILD)/stubs.
# It declares a dependency on the real tensorrt (not installable without NVIDIA's index); the stubs need none, hence --no-deps.
$(STUBS_STAMP): | $(STAMP)
	rm -rf $(STUBS_SRC)
	$(PY) -m pip install --quiet --no-deps --target $(STUBS_SRC) tensorrt-stubs==$(TRT_STUBS_VERSION)
	touch $@

typecheck: setup $(STUBS_STAMP)  ## mypy on the TensorRT-facing code against tensorrt-stubs (kept in build/, out of .venv)
	$(PY) scripts/prepare_tensorrt_stubs.py --source $(STUBS_SRC) $(BUILD)/stubs
	MYPYPATH=$(BUILD)/stubs $(PY) -m mypy

lint: setup
	$(PY) -m ruff check utils tests scripts

bench: setup  ## benchmark sweep, then the harness checked against bare loops; CSV and plots in build/benchmarks
	$(PY) -m utils bench --model $(MODEL) --batch 1,8,32 --plots $(BUILD)/benchmarks --csv $(BUILD)/benchmarks/bench_$(MODEL).csv
	$(PY) scripts/harness_check.py $(BUILD)/benchmarks/bench_$(MODEL).csv

lab: setup  ## JupyterLab on the notebooks
	$(PY) -m jupyter lab notebooks

clean:  ## remove build outputs (keeps .venv)
	rm -rf $(BUILD) .pytest_cache .mypy_cache .ruff_cache
