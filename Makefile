# Two entry points: `make run` and `make test`. Each one installs what is missing first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= config/config.yaml
CORES ?= all

# The HTML report of a finished run: results/report.html for the default config,
# results/report_<config name>.html for another one.
REPORT ?= $(if $(filter config/config.yaml,$(CONFIG)),results/report.html,results/report_$(notdir $(basename $(CONFIG))).html)

.PHONY: run test report setup system-deps lint lint-code clean

# The rules call the `exprbench` command, so the virtualenv goes first on PATH.
# --keep-going: a failing job stops only what depends on it, not the other families.
# --rerun-incomplete: after an interruption, outputs a killed job left are redone
# (the lock a killed run left is removed by the workflow itself, see run_lock.py).
run: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --cores $(CORES) --keep-going --rerun-incomplete \
		--show-failed-logs --configfile $(CONFIG)

# Every family's figures and summary tables with their captions (report/*.rst),
# from the files a finished `make run` left; nothing is recomputed.
report: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --configfile $(CONFIG) --report $(REPORT)
	@echo "report: $(REPORT)"

# The linters run first, so a style finding fails the run before the long tests.
test: setup lint-code
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The Snakefile and every rules file, so a new family's rules.smk is checked too.
SNAKEMAKE_FILES := Snakefile $(wildcard rules/*.smk src/exprbench/*/rules*.smk docs/templates/*/rules*.smk)

# Python style (ruff, settings in pyproject.toml) and Snakemake formatting (snakefmt -l 120).
lint-code: setup
	$(BIN)/ruff check .
	$(BIN)/snakefmt --check $(SNAKEMAKE_FILES)

setup: system-deps $(STAMP)

system-deps:
	@bash scripts/install_system_deps.sh

# torch is installed first on its own so that pip takes the pinned CPU wheel
# instead of resolving a CUDA build as a dependency of something else.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --lint --configfile $(CONFIG)

clean:
	rm -rf results .snakemake data logs
	find figures -mindepth 1 ! -name README.md -delete
