# The two commands a newcomer needs:
#   make run    set up, seed demo data and run the console on the embedded defaults
#   make test   set up and run the whole test suite (screenshots go to a temporary folder)
# And on request:
#   make screenshots   regenerate docs/screenshots/ (the README's pictures) from the browser tests
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test setup browser sysdeps lint pytest screenshots

$(VENV)/.installed: requirements.txt requirements-test.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 (or run make PYTHON=python3)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $@

setup: $(VENV)/.installed

run: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py merge_orders
	$(PY) manage.py run_console

# Browser tests drive Debian's Chromium; install it once when it is missing (needs root or sudo).
browser:
	@test -x /usr/bin/chromium || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# mssql-django imports pyodbc, which loads Debian's unixODBC runtime (libodbc.so.2 from libodbc2, which
# needs libltdl.so.7 from libltdl7); install them once when missing (needs root or sudo).
sysdeps:
	@{ dpkg -s libodbc2 libltdl7 >/dev/null 2>&1 || \
	   { PATH="$$PATH:/sbin:/usr/sbin" ldconfig -p | grep -q 'libodbc\.so\.2 ' && \
	     PATH="$$PATH:/sbin:/usr/sbin" ldconfig -p | grep -q 'libltdl\.so\.7 '; }; } || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq libodbc2 libltdl7 >/dev/null; }

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

pytest: setup sysdeps
	$(VENV)/bin/pytest

test: setup browser sysdeps lint pytest

# The browser tests write their screenshots to a temporary folder, so `make test` leaves the working
# tree clean; this target points them at docs/screenshots/ instead. Commit the pictures that changed.
screenshots: setup browser
	ORDEROPS_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(VENV)/bin/pytest tests/test_console_browser.py tests/test_runbooks_browser.py tests/test_reconcile_browser.py -p no:cacheprovider -q
	@git status --short docs/screenshots/
