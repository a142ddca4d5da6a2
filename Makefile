# netevd: the two commands a new user needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test demo deps venv lint unit integration lab lab-down clean image

test: deps venv lint
	$(BIN)/pytest -n auto --cov=netevd.core --cov-branch --cov-report=term:skip-covered --cov-fail-under=95 tests

deps:
	./scripts/install-deps.sh

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,dev]'
	touch $(STAMP)

venv: $(STAMP)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict netevd lab bench
	$(BIN)/lint-imports

unit: venv
	$(BIN)/pytest -n auto tests/unit

integration: deps venv
	$(BIN)/pytest -n auto tests/integration

# localhost/netevd:latest from this checkout (podman, runc; a local Debian base is made with
# debootstrap when no registry answers). See docs/deployment.md.
image: deps venv
	$(BIN)/python -m lab.containers.image $(if $(BASE),--base $(BASE))

demo: deps venv
	$(BIN)/python -m lab.demo

lab: deps venv
	$(BIN)/python -m lab up multihomed

lab-down: venv
	$(BIN)/python -m lab down

# The man pages are generated from the CLI's parser and the configuration schema.
.PHONY: man
man: venv
	$(BIN)/python -m netevd.cli.manpage man

clean:
	rm -rf $(VENV) build dist *.egg-info

# Speed and memory of the real daemon in lab namespaces; method and figures: docs/benchmarks.md.
.PHONY: bench
bench: deps venv
	$(BIN)/python -m bench all
