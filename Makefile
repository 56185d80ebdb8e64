# The project's two commands: `make demo` (the main job) and `make test` (the tests CI runs).
.PHONY: setup data text-data demo test test-all lint

setup:
	bash scripts/setup.sh

data:
	bash scripts/get-data.sh

# the Lee corpus, WordSim-353 and SimLex-999 for benchmarks/bench_text.py (from gensim's wheel)
text-data: setup
	bash scripts/get-text-data.sh

demo: setup data
	.venv/bin/siamkit demo

test: setup data
	.venv/bin/ruff check src tests benchmarks
	.venv/bin/ruff format --check src tests benchmarks
	.venv/bin/mypy
	.venv/bin/python -m pytest

test-all: setup data
	.venv/bin/python -m pytest -m "slow or not slow"

lint: setup
	.venv/bin/ruff check src tests benchmarks
	.venv/bin/ruff format --check src tests benchmarks
	.venv/bin/mypy
