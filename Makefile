# The two commands a newcomer needs (see README.md):
#   make demo   set everything up, start the server with a demo exam
#   make test   set everything up, run the whole test suite
.PHONY: setup demo test bench

setup:
	@bash scripts/setup.sh

demo: setup
	@.venv/bin/interview-server demo

test: setup
	@.venv/bin/python -m pytest $(PYTEST_ARGS)

bench: setup
	@.venv/bin/python -m bench.booking
