# Two commands on a fresh machine: `make demo` (the main job) and `make test` (the tests).
# Each creates the virtual environment it needs in .venv on first use.

PYTHON ?= python3
# one torch thread unless the caller says otherwise: a second one does not help the
# environments, and on a busy machine the two fight over the cores (README, "Set-up")
export OMP_NUM_THREADS ?= 1
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-all lint bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# constraints.txt pins torch to the CPU build; the package itself asks only for a range
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)  ## the main job: the execution league (baselines and the shipped PPO agent) on the bundled default
	$(BIN)/mars-gym benchmark --task execution --episodes 32 --batch 32 --plot out/league_execution.png --out out/league_execution.json

test: $(STAMP)  ## the default (fast) test suite
	$(BIN)/python -m pytest

test-all: $(STAMP)  ## every test, the slow ones included
	$(BIN)/python -m pytest -m ""

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)  ## replay speed on the GOOG level-10 sample day
	$(BIN)/mars-gym replay ../shared/data/lobster/LOBSTER_SampleFile_GOOG_2012-06-21_10.zip --out out/replay_bench.json

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache .hypothesis
