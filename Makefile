# The two commands of the README:
#   make run    set up (first time) and open the dashboard on the built-in synthetic data
#   make test   set up (first time) and run the whole test suite (unit, notebooks, real browser)
# Both create or refresh .venv themselves; a second run only re-installs when pyproject.toml changed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml 2>/dev/null | cksum | cut -d' ' -f1)
PORT   ?= 8866

.PHONY: run test setup browser bench lint clean

run: $(STAMP)
	$(BIN)/trial-explorer dashboard --port $(PORT)

test: $(STAMP) browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@# an editable install leaves out pyproject's data-files: put the server extension's config where a wheel puts it
	@mkdir -p $(VENV)/etc/jupyter/jupyter_server_config.d
	cp jupyter-config/jupyter_server_config.d/trial_explorer.json $(VENV)/etc/jupyter/jupyter_server_config.d/
	@rm -f $(VENV)/.installed-*
	@touch $@

browser:
	@bash scripts/ensure-chromium.sh
	@bash scripts/ensure-java.sh

# every benchmarks/bench_*.py through benchmarks/run_all.py; QUICK=1 runs the small sizes only (results kept)
bench: $(STAMP) browser
	$(BIN)/python benchmarks/run_all.py $(if $(QUICK),--quick) $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check explorer tests benchmarks scripts

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
