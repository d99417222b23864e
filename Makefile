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
# The warehouse: duckdb (the file above) or postgres (`make demo WAREHOUSE=postgres` creates POSTGRES_DB
# on the server if it is missing). POSTGRES_PASSWORD, if any, comes from the environment only.
export WAREHOUSE     ?= duckdb
export POSTGRES_HOST ?= 127.0.0.1
export POSTGRES_PORT ?= 5432
export POSTGRES_USER ?= postgres
export POSTGRES_DB   ?= psa
# The planning tool: the local Anaplan-protocol server by default; point these at a real tenant in
# production (docs/configuration.md). The password default is the local server's only.
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
PLANNING_SERVER := $(BIN)/python -m demo.servers.control
# A port held by anything but this checkout's own planning server is an error, never silently reused.
CHECK_PORT := $(BIN)/python deploy/check_port.py
PLANNING_ARGS   := anaplan --port $(ANAPLAN_PORT) --db "$(PLANNING_DIR)anaplan.sqlite" --pidfile "$(PLANNING_DIR)anaplan.pid" --log "$(PLANNING_DIR)anaplan.log"

# SOURCE=api: the same demo firm read through local servers that speak the vendors' APIs (Salesforce,
# NetSuite, Workday, Anaplan exports) instead of from landing files. Defaults are the local servers'.
SOURCE ?= files
export INGEST_SOURCE := $(SOURCE)
API_DIR         := $(PLANNING_DIR)api_servers
SALESFORCE_PORT ?= 8766
NETSUITE_PORT   ?= 8767
WORKDAY_PORT    ?= 8768
export SALESFORCE_LOGIN_URL     ?= http://127.0.0.1:$(SALESFORCE_PORT)
export SALESFORCE_CLIENT_ID     ?= demo-client
export SALESFORCE_CLIENT_SECRET ?= demo-secret
export NETSUITE_ACCOUNT_URL     ?= http://127.0.0.1:$(NETSUITE_PORT)
export NETSUITE_CLIENT_ID       ?= demo-client
export NETSUITE_CERTIFICATE_ID  ?= demo-certificate
export WORKDAY_BASE_URL         ?= http://127.0.0.1:$(WORKDAY_PORT)
export WORKDAY_TENANT           ?= psf_demo
export WORKDAY_REPORT_OWNER     ?= ISU_PSA_Pipeline
export WORKDAY_CLIENT_ID        ?= demo-client
export WORKDAY_CLIENT_SECRET    ?= demo-secret
export WORKDAY_REFRESH_TOKEN    ?= demo-refresh-token
api_server = $(PLANNING_SERVER) $(1) $(2) --port $(3) --landing "$(LANDING_DIR)" --state-dir "$(API_DIR)" \
  --pidfile "$(API_DIR)/$(2).pid" --log "$(API_DIR)/$(2).log"
ifeq ($(SOURCE),api)
PLANNING_ARGS += --landing "$(LANDING_DIR)"
API_START := $(call api_server,start,salesforce,$(SALESFORCE_PORT)) && \
  $(call api_server,start,netsuite,$(NETSUITE_PORT)) && $(call api_server,start,workday,$(WORKDAY_PORT))
API_STOP  := $(call api_server,stop,salesforce,$(SALESFORCE_PORT)); \
  $(call api_server,stop,netsuite,$(NETSUITE_PORT)); $(call api_server,stop,workday,$(WORKDAY_PORT));
# The local NetSuite integration's private key (created by its server), unless one is given.
API_ENV   := NETSUITE_PRIVATE_KEY="$${NETSUITE_PRIVATE_KEY:-$$(cat "$(API_DIR)/netsuite_demo_private_key.pem")}"
endif

SCALE ?= small
SEED  ?= 42
# Past nightly runs before the demo's own (demo/history.py, docs/demo.md): weekly ones, 0 for none.
# None with DROP: a firm without that export had none in the past either (the raw tables would keep
# the past runs' rows, and DROP=erp/consolidatedexchangerate.jsonl would not block the sync).
HISTORY_WEEKS ?= $(if $(DROP),0,8)
AS_OF ?=
# A landing file to leave out of the demo (e.g. erp/consolidatedexchangerate.jsonl, to see the gate block).
DROP ?=
# The marts are built as of the demo's as-of date (empty: today).
export AS_OF_DATE ?= $(AS_OF)

DBT_SOURCES := $(shell find dbt_project/models dbt_project/macros dbt_project/tests -type f 2>/dev/null) dbt_project/dbt_project.yml
MANIFEST    := dbt_project/target/manifest.json

.PHONY: help install demo test test-fast ui lint manifest clean bench

help:
	@echo "make demo   build the demo firm's warehouse (SCALE=small|medium|large SEED=42 AS_OF=YYYY-MM-DD SOURCE=files|api)"
	@echo "make test   run the test suite (unit, integration and demo tests; about 13 minutes on 2 cores)"
	@echo "make test-fast  the unit tests only (well under a minute)"
	@echo "make ui     open the Dagster UI on http://127.0.0.1:3000 (UI_PORT=3000)"
	@echo "make screenshots  docs/tour.md's screenshots of make ui, by headless Chromium"
	@echo "make recover-runs  mark runs whose process died failed and free their pool slots (RUN_ID=...)"
	@echo "make lint   ruff + sqlfluff"
	@echo "make docs   dbt model docs (every model and column) on http://127.0.0.1:$(DOCS_PORT)"
	@echo "make bench  time the pipeline against the DuckDB limit (BENCH_SCALE=small|medium|large, default medium)"

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

# `make demo` launches the nightly_full job (every asset), so the UI's Overview, Jobs and Runs show it.
# The run reads the files the generator wrote a moment before, so nothing waits to settle
# (LANDING_SETTLE_SECONDS=0 for this run only; scheduled runs wait, as the landing sensor does).
demo: $(MANIFEST) $(DAGSTER_HOME)/dagster.yaml
	@mkdir -p "$(dir $(DUCKDB_DATABASE))" "$(LANDING_DIR)"
	$(BIN)/python -m demo.history --weeks $(HISTORY_WEEKS) --scale $(SCALE) --seed $(SEED) $(if $(AS_OF),--as-of $(AS_OF))
	$(BIN)/python -m demo.firm --scale $(SCALE) --seed $(SEED) --out "$(LANDING_DIR)" $(if $(AS_OF),--as-of $(AS_OF))
	$(if $(DROP),rm -f "$(LANDING_DIR)/$(DROP)")
	$(if $(filter postgres,$(WAREHOUSE)),$(BIN)/python -m orchestration.lib.postgres create-database)
	$(CHECK_PORT) $(ANAPLAN_PORT) ANAPLAN_PORT "$(PLANNING_DIR)anaplan.pid"
	$(PLANNING_SERVER) start $(PLANNING_ARGS)
	$(API_START)
	$(API_ENV) LANDING_SETTLE_SECONDS=0 $(BIN)/dagster job execute -m orchestration.definitions -j nightly_full; status=$$?; \
	  $(PLANNING_SERVER) stop $(PLANNING_ARGS); $(API_STOP) exit $$status
	@$(BIN)/python -m demo.summary

# Every test is one kind (tests/conftest.py): unit, integration or demo. `make test` runs them all on two
# workers (the demo is built once, in the background, while the first tests run); `make test-fast` the unit tests.
test: $(MANIFEST)
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

test-fast: $(MANIFEST)
	$(BIN)/python -m pytest -q -n 2 -m unit

UI_PORT ?= 3000

ui: $(MANIFEST) $(DAGSTER_HOME)/dagster.yaml
	$(CHECK_PORT) $(UI_PORT) UI_PORT
	$(CHECK_PORT) $(ANAPLAN_PORT) ANAPLAN_PORT "$(PLANNING_DIR)anaplan.pid"
	$(PLANNING_SERVER) start $(PLANNING_ARGS)
	$(BIN)/dagster dev -w workspace.yaml -p $(UI_PORT); $(PLANNING_SERVER) stop $(PLANNING_ARGS)

# docs/tour.md's screenshots: headless Chromium (Debian package `chromium`) against `make ui` on the
# warehouse of this shell (make demo first). SHOTS="--pages sync,gate --sync-name sync-blocked" on a blocked demo.
.PHONY: screenshots
screenshots: $(MANIFEST) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/python -m demo.screenshots --port $(UI_PORT) --out docs/tour $(SHOTS)

# A run killed (kill -9, out of memory) keeps its duckdb_writer slot: mark such runs failed and free
# their slots (docs/operations.md, Recovering from a killed run). RUN_ID=<id> names one run.
.PHONY: recover-runs
recover-runs: $(BIN)/.installed
	$(BIN)/python -m orchestration.defs.automation.recovery $(if $(RUN_ID),--run-id $(RUN_ID))

# dbt's model docs for analysts: every model and column with its description, data type, tests
# and lineage (docs/metrics.md is the map). `dbt docs generate` is offline (no
# packages, no telemetry: the site's tracking follows send_anonymous_usage_stats, off); its catalog
# reads the warehouse for a few seconds, so run it between pipeline runs. The result is static:
# target/docs/static_index.html opens from disk as one file, and `dbt docs serve` serves the same.
DOCS_PORT ?= 8080
DOCS_DIR  := dbt_project/target/docs

.PHONY: docs
docs: $(MANIFEST)
	cd dbt_project && ../$(BIN)/dbt docs generate --static --profiles-dir . --target-path target/docs
	@echo "Model docs: $(CURDIR)/$(DOCS_DIR)/static_index.html, or http://127.0.0.1:$(DOCS_PORT) (Ctrl+C stops)"
	cd dbt_project && ../$(BIN)/dbt docs serve --profiles-dir . --target-path target/docs --host 127.0.0.1 \
	  --port $(DOCS_PORT) --no-browser

lint: $(BIN)/.installed
	$(BIN)/ruff check orchestration demo bench tests dbt_project/scripts
	$(BIN)/ruff format --check orchestration demo bench tests dbt_project/scripts
	$(BIN)/sqlfluff lint dbt_project/models dbt_project/macros

clean:
	rm -rf data dbt_project/target dbt_project/logs

# The benchmark (docs/performance.md): the pipeline against the single-connection DuckDB limit and
# a pandas peer, on a fresh demo firm under data/bench/; results in bench/results/<scale>.json.
# Not a test: minutes at medium, much longer at large (make bench BENCH_SCALE=large).
BENCH_SCALE ?= medium
BENCH_ARGS  ?=

bench: $(MANIFEST)
	$(BIN)/python -m bench --scale $(BENCH_SCALE) $(BENCH_ARGS)
