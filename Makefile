# Softbrik: `make run` serves the API on the embedded defaults; `make test` runs the tests.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PLUGINS := $(wildcard plugins/*/pyproject.toml)
STAMP := $(VENV)/.installed

.PHONY: install run test bench lint format migrations clean

install: $(STAMP)

$(STAMP): pyproject.toml $(PLUGINS) Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/python -m pip install -q uv
	$(BIN)/uv pip install --python $(BIN)/python -q -e '.[dev]' $(foreach p,$(PLUGINS),-e $(dir $(p)))
	touch $(STAMP)

run: install
	$(BIN)/softbrik serve

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m bench

lint: install
	$(BIN)/ruff check softbrik plugins tests bench
	$(BIN)/ruff format --check softbrik plugins tests bench
	$(BIN)/mypy softbrik plugins

format: install
	$(BIN)/ruff format softbrik plugins tests bench
	$(BIN)/ruff check --fix softbrik plugins tests bench

migrations: install
	$(BIN)/softbrik makemigrations

clean:
	rm -rf $(VENV) .softbrik
