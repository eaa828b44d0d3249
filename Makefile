# fallwerk: the two commands that matter are `make run` and `make test`.

# Builds read the committed .sqlx/ cache of the query macros, even with a DATABASE_URL in the
# environment; only `make sqlx-prepare`/`sqlx-check` compile against a live database.
export SQLX_OFFLINE := true

.PHONY: run run-stops-test test lint fmt sqlx-prepare sqlx-check deploy-check proto-check api-docs chaos bench bench-feed load load-case-plan bench-partner bench-audit prometheus-check prometheus-live-test image image-test

## The whole system on this machine (private PostgreSQL under .dev/ unless DATABASE_URL is set).
run:
	@deploy/local/run.sh

## `make run` in its own process group gets SIGTERM and must leave nothing running.
run-stops-test:
	@deploy/local/run-stops-test.sh

## Every test, against a throwaway PostgreSQL cluster.
test:
	@deploy/local/test.sh

## Formatting and lints, as CI checks them.
lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

fmt:
	cargo fmt --all

## Rewrite .sqlx/, the offline cache of the compile-time checked queries, against a throwaway
## cluster with every service's migrations applied. Run after changing a query or a migration.
sqlx-prepare:
	@deploy/local/sqlx-prepare.sh

## Fail if .sqlx/ is stale or incomplete, as CI checks it.
sqlx-check:
	@deploy/local/sqlx-prepare.sh --check

## Render every kustomize target, validate it against the Kubernetes schemas and run checkov over
## every overlay (offline once its three PyPI packages are in .dev/k8svenv; the marker file names
## the checkov version, so a new pin installs again); then, where a container runtime and `make
## image`'s image are, `make image-test`.
deploy-check:
	@test -f .dev/k8svenv/.checkov-3.3.30 || (python3 -m venv .dev/k8svenv && .dev/k8svenv/bin/pip install -q 'kubernetes-validate==1.37.*' 'PyYAML>=6' 'checkov==3.3.30' && touch .dev/k8svenv/.checkov-3.3.30)
	@.dev/k8svenv/bin/python deploy/k8s/validate.py
	@if command -v podman >/dev/null && podman image exists localhost/fallwerk:dev 2>/dev/null; then \
		deploy/image/test.sh; \
	else echo "deploy-check: image-test skipped: no container runtime or no image here (make image builds one)"; fi

## Event feed latency and throughput (release build, durable PostgreSQL; see the README's
## "Performance" section).
bench-feed:
	@deploy/local/postgres.sh start .dev/pg-bench 54349 --fresh
	@FALLWERK_TEST_DATABASE_URL=postgres://fallwerk@127.0.0.1:54349/postgres cargo bench --locked -p fallwerk-tests --bench feed; \
	status=$$?; deploy/local/postgres.sh stop .dev/pg-bench; exit $$status

## Referral figures: CreateReferral with its snapshot call, and partner-stream delivery
## (release build, durable PostgreSQL; see the README's "Performance" section).
bench-partner:
	@deploy/local/postgres.sh start .dev/pg-bench 54349 --fresh
	@FALLWERK_TEST_DATABASE_URL=postgres://fallwerk@127.0.0.1:54349/postgres cargo bench --locked -p fallwerk-tests --bench partner; \
	status=$$?; deploy/local/postgres.sh stop .dev/pg-bench; exit $$status

## The cost of the hash-chained audit trail: audited writes/s with and without the chainer.
bench-audit:
	@deploy/local/postgres.sh start .dev/pg-bench 54349 --fresh
	@FALLWERK_TEST_DATABASE_URL=postgres://fallwerk@127.0.0.1:54349/postgres cargo bench --locked -p fallwerk-tests --bench audit; \
	status=$$?; deploy/local/postgres.sh stop .dev/pg-bench; exit $$status

## Lint the public contract with buf (from the npm registry, kept in .dev/buf) and check it
## against the newest tagged contract release, if there is one.
proto-check:
	@test -x .dev/buf/node_modules/.bin/buf || npm install --silent --no-audit --no-fund --prefix .dev/buf @bufbuild/buf@1.75.0
	@cd proto && ../.dev/buf/node_modules/.bin/buf lint && echo "proto: buf lint clean"
	@release=$$(git tag --list 'proto/v1.*' --sort=-v:refname | head -n1); \
	if [ -n "$$release" ]; then cd proto && ../.dev/buf/node_modules/.bin/buf breaking --against "../.git#tag=$$release,subdir=proto" && echo "proto: compatible with $$release"; \
	else echo "proto: no release tagged yet (proto/v1.*); breaking-change check skipped"; fi
	@$(MAKE) --no-print-directory api-docs API_DOCS_DIR=.dev/api-docs >/dev/null
	@diff -r -q docs/api .dev/api-docs >/dev/null || { echo "proto: docs/api is not current; run make api-docs and commit it" >&2; diff -r -u docs/api .dev/api-docs | head -40 >&2; exit 1; }
	@echo "proto: docs/api current"

## Faults under load (tests/tests/chaos.rs): each service crashes in turn, PostgreSQL stops,
## the network between the services is cut and slowed, intake is overloaded, case-plan is
## away while its feeds fall behind; then every acknowledged create, every event's
## effect in every subscriber and the impossible states are checked from the databases, and
## the figures printed. `make test` runs it with 4 s per fault; this with CHAOS_PHASE_SECS (15).
chaos:
	@CHAOS_PHASE_SECS=$${CHAOS_PHASE_SECS:-15} deploy/local/test.sh --test chaos -- --nocapture

## The API reference (docs/api/) from the contract: comments, field behaviour, types.
API_DOCS_DIR ?= docs/api
api-docs:
	@rm -rf $(API_DOCS_DIR) && cargo run --locked -q -p fallwerk-apidoc -- $(API_DOCS_DIR)

## fallwerk beside the machine's ceilings in one run: Health/Check, pgbench with RegisterVisit's
## and GetCase's statements, those RPCs, the reads, the arrival, the office's mix (closed, then
## open at half), CPU per call, memory (tests/load/bench.sh; docs/PERFORMANCE.md).
bench:
	@tests/load/bench.sh

## The load generator (crates/load) against a running `make run`: by default the arrival, from
## registration to a case readable in case-plan. More flags in LOAD_ARGS, e.g.
## LOAD_ARGS="--scenario mix --rate 50 --duration 30s --plot mix.svg" or "--concurrency 16 --json".
load:
	SQLX_OFFLINE=true cargo run --release --locked -q -p fallwerk-load -- --case-plan http://127.0.0.1:50052 --partner http://127.0.0.1:50053 $(LOAD_ARGS)

## Unary gRPC load on case-plan beside intake (GetCase, RecordReview), the write's statements in
## pgbench in the same run, and the intake -> case-plan propagation (release build, loopback).
load-case-plan:
	@tests/load/case-plan-unary.sh

## Prometheus rules (promtool check and unit tests), the Grafana dashboard's and the rules'
## metric names against the code, the OpenTelemetry collector's configuration, the component render.
prometheus-check:
	@deploy/local/prometheus-check.sh

## The rules evaluated by a real Prometheus scraping the three services under load, a consumer
## stopped: alerts that must fire do, others stay quiet. Binaries from FALLWERK_BIN_DIR (built when unset).
prometheus-live-test:
	@if [ -z "$$FALLWERK_BIN_DIR" ]; then cargo build --locked -p fallwerk-intake -p fallwerk-case-plan -p fallwerk-partner -p fallwerk-cli -p fallwerk-load; fi
	@deploy/local/prometheus-live-test.sh

## The runtime image, built here without a registry: FROM scratch with the release binaries (all
## three services, the CLI, fallwerk-load), exactly the shared libraries they need, user 65532 and
## the CA bundle; no shell, no package manager (deploy/image/; buildah from Debian, installed
## when missing). Binaries from FALLWERK_BIN_DIR (built with cargo build --release when unset).
image:
	@if [ -z "$$FALLWERK_BIN_DIR" ]; then cargo build --release --locked -p fallwerk-intake -p fallwerk-case-plan -p fallwerk-partner -p fallwerk-cli -p fallwerk-load; fi
	@deploy/image/build.sh "$${FALLWERK_BIN_DIR:-target/release}"

## `make image`'s image run as the local overlay's pods (read-only root, no capabilities, the
## manifest's uid, their environment and Secrets as files) against a PostgreSQL on the host:
## migrate, gRPC readiness probe, CLI calls, SIGTERM drain and exit code; skipped when no
## container runtime is available.
image-test:
	@deploy/image/test.sh
