# hybridburst: `make demo` runs the main job on the local cloud, `make test` the whole suite.
# Both set up what they need first (scripts/bootstrap.sh), idempotently.
SHELL := /bin/bash
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export CONTAINERS_CONF := $(CURDIR)/src/hybridburst/providers/local/data/containers.conf
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.collections
export ANSIBLE_ROLES_PATH := $(CURDIR)/roles
SCENARIOS := $(notdir $(wildcard molecule/*))

.PHONY: setup demo demo-aws test lint unit e2e molecule bench clean

setup:
	@bash scripts/bootstrap.sh

demo: setup
	@bash scripts/demo.sh

# The Double-11 story on the emulated AWS path: the real aws_burst and private_peering programs
# through the Automation API seam under Pulumi's mocks, every instance a local-cloud host.
demo-aws: setup
	@SPEC=examples/double11-aws-emulated.yml EVENT=d11aws bash scripts/demo.sh

lint: setup
	$(BIN)/ruff check src tests plugins pulumi_stacks bench
	$(BIN)/yamllint --strict .
	@# unparsed_is_failed (ansible.cfg) is for real runs; ansible-lint's syntax check has no inventory.
	ANSIBLE_INVENTORY_UNPARSED_FAILED=False $(BIN)/ansible-lint --profile production --offline

unit: setup
	$(BIN)/pytest -q tests/unit $(wildcard tests/pulumi) $(wildcard tests/costs)

e2e: setup
	$(BIN)/pytest -q tests/e2e

# The scenarios share nothing, so they run MOLECULE_JOBS (default 3) at a time.
molecule: setup
	@bash scripts/molecule_all.sh $(SCENARIOS)

test: setup lint
	$(BIN)/pytest --durations=15 tests
	@$(MAKE) --no-print-directory molecule

# Time to capacity: baked vs converge vs stock settings at 10/30/100 hosts, plus the fleet
# manifest, Pulumi and journal benches (bench/run.py --help). `make bench BENCH_ARGS=--quick`
# checks that it works on 2 hosts per mode. Run it alone: it starts up to 100 local hosts.
bench: setup
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	-$(BIN)/hybridburst deprovision double11
	rm -rf .cache .pytest_cache .ruff_cache
