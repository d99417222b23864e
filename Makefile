# Two commands for a newcomer: `make demo` (build the demo warehouse) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

# Telemetry off everywhere this project runs (dbt, Great Expectations, dlt; Dagster's is off in
# $(DAGSTER_HOME)/dagster.yaml, written below).
export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export GX_ANALYTICS_ENABLED := false
export RUNTIME__DLTHUB_TELEMETRY := false

# Configuration: every variable has a default under the git-ignored data/ folder.
export DUCKDB_DATABASE ?= $(CURDIR)/data/warehouse.duckdb
export LANDING_DIR     ?= $(CURDIR)/data/landing
export DAGSTER_HOME    ?= $(CURDIR)/data/dagster_home
# The planning tool: the local Anaplan-protocol server by default; point these at a real tenant in
# production (README, Configuration). The password default is the local server's only.
ANAPLAN_PORT ?= 8765
PLANNING_DIR := $(dir $(DUCKDB_DATABASE))
export ANAPLAN_API_URL      ?= http://127.0.0.1:$(ANAPLAN_PORT)
export ANAPLAN_AUTH_URL     ?= http://127.0.0.1:$(ANAPLAN_PORT)
export ANAPLAN_WORKSPACE_ID ?= demo-ws
export ANAPLAN_MODEL_ID     ?= demo-model
export ANAPLAN_FILE_ID      ?= forecast_inputs
export ANAPLAN_IMPORT_ID    ?= forecast_inputs
export ANAPLAN_USERNAME     ?= demo
export ANAPLAN_PASSWORD     ?= demo-password
PLANNING_SERVER := $(BIN)/python -m local_servers.control
PLANNING_ARGS   := anaplan --port $(ANAPLAN_PORT) --db "$(PLANNING_DIR)anaplan.sqlite" --pidfile "$(PLANNING_DIR)anaplan.pid" --log "$(PLANNING_DIR)anaplan.log"

SCALE ?= small
SEED  ?= 42
AS_OF ?=
# A landing file to leave out of the demo (e.g. erp/consolidatedexchangerate.jsonl, to see the gate block).
DROP ?=
# The marts are built as of the demo's as-of date (empty: today).
export AS_OF_DATE ?= $(AS_OF)

DBT_SOURCES := $(shell find dbt_project/models dbt_project/macros -type f 2>/dev/null) dbt_project/dbt_project.yml
MANIFEST    := dbt_project/target/manifest.json

.PHONY: help install demo test ui lint manifest clean

help:
	@echo "make demo   build the demo firm's warehouse (SCALE=small|medium|large SEED=42 AS_OF=YYYY-MM-DD)"
	@echo "make test   run the test suite"
	@echo "make ui     open the Dagster UI on http://127.0.0.1:3000"
	@echo "make lint   ruff + sqlfluff"

# The environment is rebuilt only when the lock file changes: a second `make demo` takes seconds.
$(BIN)/.installed: requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	# The repo root on the venv's path (what an editable install does, without a build step).
	$(BIN)/python -c "import site, pathlib; pathlib.Path(site.getsitepackages()[0], 'psa_pipeline.pth').write_text('$(CURDIR)\n')"
	touch $@

install: $(BIN)/.installed

# dbt's manifest is prepared offline (no packages, no warehouse connection needed).
$(MANIFEST): $(BIN)/.installed $(DBT_SOURCES)
	cd dbt_project && ../$(BIN)/dbt parse --quiet --profiles-dir .
	touch $@

manifest: $(MANIFEST)

# The local instance: telemetry off, the duckdb_writer pool limited to 1, the run queue's lanes.
$(DAGSTER_HOME)/dagster.yaml: deploy/dagster.local.yaml
	@mkdir -p "$(DAGSTER_HOME)"
	cp deploy/dagster.local.yaml "$@"

demo: $(MANIFEST) $(DAGSTER_HOME)/dagster.yaml
	@mkdir -p "$(dir $(DUCKDB_DATABASE))" "$(LANDING_DIR)"
	$(BIN)/python -m ingest.demo --scale $(SCALE) --seed $(SEED) --out "$(LANDING_DIR)" $(if $(AS_OF),--as-of $(AS_OF))
	$(if $(DROP),rm -f "$(LANDING_DIR)/$(DROP)")
	$(PLANNING_SERVER) start $(PLANNING_ARGS)
	$(BIN)/dagster asset materialize -m orchestration.definitions --select '*'; status=$$?; \
	  $(PLANNING_SERVER) stop $(PLANNING_ARGS); exit $$status
	@$(BIN)/python -m orchestration.summary

test: $(MANIFEST)
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

ui: $(MANIFEST) $(DAGSTER_HOME)/dagster.yaml
	$(PLANNING_SERVER) start $(PLANNING_ARGS)
	$(BIN)/dagster dev -w workspace.yaml; $(PLANNING_SERVER) stop $(PLANNING_ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check ingest orchestration tests
	$(BIN)/ruff format --check ingest orchestration tests
	$(BIN)/sqlfluff lint dbt_project/models dbt_project/macros

clean:
	rm -rf data dbt_project/target dbt_project/logs
