# bakeplan's entry points. `make run` and `make test` work on a fresh machine.
include tools/versions.env

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DOCKER_CONFIG := $(CURDIR)/.tools/docker
export PATH := $(CURDIR)/.tools/bin:$(PATH)

.PHONY: run test tools venv bench typecheck lint check-matrices lalr-tables clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# compat mode: a plain path entry, no import hook on every start (-15 ms a run)
	$(BIN)/pip install -q -e '.[test]' --config-settings editable_mode=compat
	touch $(STAMP)

venv: $(STAMP)

tools:
	bash tools/install.sh

run: venv
	cd matrices/go-cross && $(CURDIR)/$(BIN)/bakeplan plan

test: venv tools typecheck lint
	$(BIN)/python -m pytest

typecheck: venv
	$(BIN)/mypy

lint: venv
	$(BIN)/ruff check

bench: venv tools
	$(BIN)/python -m bench

check-matrices: venv
	$(BIN)/python -m bakeplan.emit.check matrices

# The LALR tables shipped in the package, exported from Lark (after upgrading Lark or python-hcl2,
# or changing the grammar's patches; tests/test_lalr_tables.py says when).
lalr-tables: venv
	$(BIN)/python -m bakeplan.hcl.native.tables

clean:
	rm -rf $(VENV) .tools build *.egg-info
