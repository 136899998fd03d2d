# divrank: two commands do everything on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PY_SYS ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DIVRANK := $(VENV)/bin/divrank
JAVA_HOME ?= /usr/lib/jvm/temurin-25-jdk-amd64
export JAVA_HOME
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
# A CPU-only torch wheel, when one lies on disk here, wins over PyPI's CUDA build (see README).
WHEELS := $(if $(wildcard /opt/wheels/*.whl),--find-links /opt/wheels,)
TORCH := torch==2.15.0

.PHONY: docs install engine plugin lint test test-unit test-integration plugin-test demo down clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PY_SYS) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q $(WHEELS) $(TORCH)
	$(VENV)/bin/pip install -q $(WHEELS) -e '.[dev,distributed]'
	@# The demo page test drives Debian's Chromium with Playwright (never a browser download).
	command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; } \
	  || echo "warning: install Debian's chromium for tests/integration/test_demo_page.py"
	touch $@

install: $(VENV)/.installed

plugin:
	cd plugin && mvn -B -q package -DskipTests

plugin-test:
	cd plugin && mvn -B test

engine: install
	$(DIVRANK) engine up

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test-unit: install
	$(VENV)/bin/pytest tests/unit

# The engine fixture starts OpenSearch (building and installing the plugin) and stops it
# again when the session ends, unless one was already running.
test-integration: install
	$(VENV)/bin/pytest tests/integration

test: install lint plugin-test
	$(VENV)/bin/pytest tests

# From nothing to the side-by-side pages: engine, sidecar (background, pid in .cache/), the Icecat
# catalog (indexed once; DIVRANK_DEMO_ALIAS, default icecat), the scripted shoppers' profiles,
# the pipeline as the alias's default, then 3 queries x 2 users and the demo page's URL.
demo: install
	$(DIVRANK) engine up
	$(DIVRANK) demo sidecar start
	$(DIVRANK) demo index-ready --alias $${DIVRANK_DEMO_ALIAS:-icecat} || \
	  $(DIVRANK) index --preset icecat --alias $${DIVRANK_DEMO_ALIAS:-icecat} \
	    $${DIVRANK_SHARED_DATA:+--data-dir "$$DIVRANK_SHARED_DATA"}
	$(DIVRANK) pipeline install --alias $${DIVRANK_DEMO_ALIAS:-icecat} --default \
	  --name $${DIVRANK_DEMO_PIPELINE:-divrank} --sidecar-url "$$($(DIVRANK) demo sidecar url)"
	$(DIVRANK) demo run
	@echo "stop everything with \`make down\`"

docs: install
	$(PY) docs/generate_cli.py

down:
	-$(DIVRANK) demo sidecar stop
	-$(DIVRANK) engine down

clean: down
	rm -rf .engine/opensearch-* .engine/data .engine/logs .engine/node-* .engine/cluster.json plugin/target
