# `make demo` and `make test` set up whatever is missing (system libraries, .venv) and run.
# Every set-up step is guarded by a stamp or a presence check, so a second run is quick.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# FFmpeg 5 runtime libraries (what torchcodec 0.13 links against) and flite (demo speech).
APT_PKGS := libavcodec59 libavformat59 libavutil57 libswresample4 libswscale6 \
            libavfilter8 libavdevice59 flite

# `make test PYTEST_ARGS="-x -k batch"`: the suite runs on every core by default (pytest-xdist, a
# test file per worker at a time; files sharing Ray or fixed ports in turn: tests/conftest.py);
# PYTEST_ARGS="-p no:xdist" runs it in one process
PYTEST_ARGS ?= -n auto --dist loadfile

.PHONY: install system-deps browser demo test lint bench clean

install: system-deps $(STAMP)

system-deps:
	@missing=""; \
	for p in $(APT_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,bench,ray]'
	@touch $(STAMP)

demo: install
	$(BIN)/asyncbench demo

# Chromium drives the HTML report in a real browser (tests/test_report_browser.py); installed
# when it can be, so a newcomer's `make test` runs that test too. A failed install (no sudo, no
# network) only means that one test skips, with its reason.
browser:
	@command -v chromium >/dev/null || { \
	  echo "installing chromium (for the report's browser test)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	} || echo "make: chromium not installed; the report's browser test will skip"

test: install browser
	$(BIN)/ruff check asyncbench tests bench run_eval.py eval_utils.py
	$(BIN)/pytest -q $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check asyncbench tests bench run_eval.py eval_utils.py
	$(BIN)/ruff format --check asyncbench tests bench run_eval.py eval_utils.py

# `make bench BENCH_ARGS="--n 2000 --parts baseline,asyncbench"`; flags: bench/engine.py -h
# (the install includes the 'bench' extra: tests run the seed baseline on 20 clips too)
bench: install
	$(BIN)/python bench/engine.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) demo_data .pytest_cache .ruff_cache
