# kehu: `make demo` to try it, `make test` to test it. Needs Python 3.11+.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export KEHU_HOME ?= $(CURDIR)/var

.PHONY: demo test install install-dev lint bench messages clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "kehu needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## Set up, load the demo company into ./var (or $KEHU_HOME) and serve on http://127.0.0.1:8000
## (two-factor sign-in is offered, not required, in the demo; production requires it for admins)
demo: install
	$(BIN)/kehu demo
	KEHU_2FA_ENFORCED=0 $(BIN)/kehu serve --host 127.0.0.1 --port 8000

## Set up with the dev extras and run every test (PostgreSQL when DATABASE_URL is set)
test: install-dev
	KEHU_HOME=$$(mktemp -d) $(BIN)/python -m pytest -n $${KEHU_TEST_WORKERS:-auto} -q

lint: install-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports

bench: install-dev
	$(BIN)/python bench/card_bench.py

## Re-extract and compile translations (needs gettext; compiled .mo files are committed)
messages: install-dev
	cd src/kehu && ../../$(BIN)/kehu makemessages -l zh_Hans -l en --no-obsolete
	cd src/kehu && ../../$(BIN)/kehu compilemessages

clean:
	rm -rf $(VENV) .pytest_cache
