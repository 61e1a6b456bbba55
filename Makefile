# Tolk — two commands do all the set-up: `make run` and `make test`.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
export SANDBOX_SCRIPT
UV := python3 -m uv

.PHONY: install run test lint format bench clean

# uv from PyPI when the machine has none; then the locked environment in .venv.
.venv/.installed: pyproject.toml uv.lock
	@python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen --quiet --all-extras
	touch $@

install: .venv/.installed

run: install
	$(UV) run --frozen python -m bot

test: install
	$(UV) run --frozen pytest

bench: install
	$(UV) run --frozen python -m bench

# ruff's lint rules and formatting, and mypy (its settings and strict packages are in
# pyproject.toml). CI runs this before the tests.
lint: install
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy

format: install
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

clean:
	rm -rf .venv data/sandbox .pytest_cache .mypy_cache
