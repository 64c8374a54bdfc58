# Meters and More meter firmware. `make sim` runs a simulated LV section; `make test` runs every test.
# The first use of any target creates .venv from requirements.txt (pinned); nothing else to install.

PY      ?= python3
VENV    := .venv
VPY     := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
BOARD   ?= unix_sim
PORT    ?= auto
METERS  ?= 20
SIMARGS ?=

.PHONY: all venv test test-mp test-py lint format mpy deploy repl sim bench bench-crypto bench-phy bench-latency bench-memory clean

all: test

$(STAMP): requirements.txt
	$(PY) -m venv $(VENV)
	$(VPY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(VPY) tools/run_tests.py

test-mp: $(STAMP)
	$(VPY) tools/run_tests.py --mp-only

test-py: $(STAMP)
	$(VPY) tools/run_tests.py --py-only

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

mpy: $(STAMP)
	$(VPY) tools/build_mpy.py $(BOARD)

deploy: mpy
	$(VPY) tools/deploy.py $(BOARD) --port $(PORT)

repl: $(STAMP)
	$(VPY) tools/repl.py $(BOARD) $(REPLARGS)

sim: $(STAMP)
	$(VPY) tools/sim.py --meters $(METERS) $(SIMARGS)

bench: bench-crypto bench-phy bench-latency bench-memory

bench-crypto: $(STAMP)
	$(VPY) bench/bench_crypto.py

bench-phy: $(STAMP)
	$(VPY) bench/bench_phy.py

bench-latency: $(STAMP)
	$(VPY) bench/bench_latency.py

bench-memory: $(STAMP)
	$(VPY) bench/bench_memory.py

clean:
	rm -rf build out
