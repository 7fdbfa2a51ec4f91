# Each target sets up its own environment, so both work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint docs bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/iapo optimize configs/quickstart.yaml

# the report tests open report.html in Debian's Chromium: installed here when root
test: $(STAMP)
	@command -v chromium >/dev/null || [ "$$(id -u)" != 0 ] || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check iapo_cli tests benchmarks

# the documentation site (docs/, mkdocs.yml): every warning is an error; built offline
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

bench: $(STAMP)
	$(BIN)/python benchmarks/math_env.py
	$(BIN)/python benchmarks/baselines.py
	$(BIN)/python benchmarks/strategies.py
	$(BIN)/python benchmarks/live_loopback.py
	$(BIN)/python benchmarks/data_free.py

clean:
	rm -rf $(VENV) .pytest_cache
