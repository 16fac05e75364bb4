# message_handling developer targets. `make test` sets up everything it needs:
# the virtualenv (.venv) and a MariaDB server (see tools/ensure_mariadb.sh).
VENV   := .venv
PYTHON := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: venv mariadb check test faults bench demo clean clean-mariadb galera galera-stop \
	cluster-test

venv: $(VENV)/.installed

# Re-installs only when a requirements file or the project's metadata changed;
# the package itself is installed editable, so no script edits sys.path.
$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	$(VENV)/bin/pip install -q --no-deps -e .
	touch $@

# Lint, types and the unit tier: no database needed, well under a minute.
check: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PYTHON) -m pytest -q tests/unit $(PYTEST_ARGS)

mariadb:
	bash tools/ensure_mariadb.sh

# The integration tier, with the part of the cluster suite that fits CI's time (the
# tests marked cluster_ci: two instances on two nodes, a frozen instance, a killed node).
test: venv mariadb galera
	MH_CLUSTER_TESTS=ci $(PYTHON) -m pytest -q tests $(PYTEST_ARGS)

# The 3-node MariaDB Galera cluster of the cluster tests (issue 11), under .galera/:
# ports from `bash tools/ensure_galera.sh env`. MH_INSTALL_GALERA=1 (.ci/run) installs
# galera-4, rsync and mariadb-server with apt-get when missing. It keeps running, like
# the MariaDB server of make mariadb: `make galera-stop` stops it.
galera:
	bash tools/ensure_galera.sh start

galera-stop:
	bash tools/ensure_galera.sh stop

# The cluster suite: node kills, freezes, quorum loss and network cuts (needs root).
cluster-test: venv galera
	MH_CLUSTER_TESTS=1 $(PYTHON) -m pytest -q -s tests/cluster $(PYTEST_ARGS)

# The full fault-injection run (issue 3): kill series, connection cuts, server
# restarts, fencing; `make test` runs a fast subset of the same tests.
faults: venv mariadb
	MH_FAULTS=full $(PYTHON) -m pytest -q -s tests/test_faults.py $(PYTEST_ARGS)

# The fan-out benchmark (issue 4): 1M generated users, about 25 minutes; results
# in bench/results/. BENCH_ARGS=--quick for a 50k-user smoke run.
BENCH_ARGS ?=
bench: venv mariadb
	$(VENV)/bin/pip install -q -r requirements-bench.txt
	$(PYTHON) bench/run.py $(BENCH_ARGS)

demo: venv mariadb
	$(PYTHON) tools/demo.py

clean:
	rm -rf $(VENV) .pytest_cache
	find . -name __pycache__ -type d -not -path './.mariadb/*' -prune -exec rm -rf {} +

clean-mariadb:
	bash tools/ensure_mariadb.sh stop
	rm -rf .mariadb
