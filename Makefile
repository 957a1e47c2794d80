# Two commands on a fresh Debian/Ubuntu machine: `make demo` and `make test`.
# Every step is idempotent and non-interactive (CI runs it as root with CI=true).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Drivers and the database the ODBC-based connectors are tested against.
SYSTEM_PACKAGES := unixodbc odbc-postgresql libsqliteodbc postgresql
# The headless browser the KPI report's HTML is rendered in (tests/test_report_render.py). Debian
# packages it; Ubuntu only has a snap, so there it is skipped and the test looks for
# $$CONCILIADOR_CHROMIUM, chromium-browser or google-chrome (and fails under CI=true without one).
BROWSER_PACKAGE := chromium

.PHONY: demo test docs python-deps system-deps venv clean

demo: python-deps $(VENV)/.installed
	$(VENV)/bin/conciliador demo --dir demo --force

test: system-deps $(VENV)/.installed-test
	$(PY) -m pytest

# docs/plugin-reference.md is generated from hookspecs, contracts, models and the conformance kit;
# tests/test_sdk_docs.py fails when it is stale. (The example plugin in examples/ is installed by
# its own test, into a folder of its own, so the suite's environment stays plain.)
docs: $(VENV)/.installed
	$(PY) -m conciliador.docgen

# Debian ships venv without ensurepip unless python3-venv is installed; `make demo` needs it too.
python-deps:
	@if ! $(PYTHON) -c 'import ensurepip, venv' >/dev/null 2>&1; then \
	  echo "Installing python3-venv"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null; \
	fi

system-deps: python-deps
	@missing=""; for p in $(SYSTEM_PACKAGES) $(BROWSER_PACKAGE); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq || exit 1; \
	  if ! apt-cache show --no-all-versions $(BROWSER_PACKAGE) 2>/dev/null | grep -q '^Version:'; then \
	    echo "No $(BROWSER_PACKAGE) package on this system: the report's browser test needs CONCILIADOR_CHROMIUM."; \
	    missing=$$(echo "$$missing" | sed 's/ $(BROWSER_PACKAGE)$$//; s/ $(BROWSER_PACKAGE) / /'); \
	  fi; \
	  [ -z "$$missing" ] || { echo "Installing system packages:$$missing"; \
	    $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; }; \
	else echo "System packages present."; fi

$(VENV)/bin/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is required")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed: $(VENV)/bin/python pyproject.toml
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/bin/python pyproject.toml
	$(PY) -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

venv: $(VENV)/.installed-test

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache demo
