# The two commands a newcomer needs (see README.md):
#   make demo   set everything up, start the server with a demo exam
#   make test   set everything up, run the whole test suite
.PHONY: setup demo test lint bench

setup:
	@bash scripts/setup.sh

demo: setup
	@.venv/bin/interview-server demo

test: setup lint
	@.venv/bin/python -m pytest $(PYTEST_ARGS)

# ruff (lint, import order, format) and mypy (types of server/): seconds, before the tests
lint: setup
	@.venv/bin/ruff check server tests bench
	@.venv/bin/ruff format --check server tests bench
	@.venv/bin/mypy

bench: setup
	@.venv/bin/python -m bench.booking
