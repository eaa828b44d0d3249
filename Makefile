# fallwerk: the two commands that matter are `make run` and `make test`.

.PHONY: run test lint fmt deploy-check

## The whole system on this machine (private PostgreSQL under .dev/ unless DATABASE_URL is set).
run:
	@deploy/local/run.sh

## Every test, against a throwaway PostgreSQL cluster.
test:
	@deploy/local/test.sh

## Formatting and lints, as CI checks them.
lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

fmt:
	cargo fmt --all

## Render every kustomize target and validate it against the Kubernetes schemas (offline once
## its two PyPI packages are in .dev/k8svenv).
deploy-check:
	@test -x .dev/k8svenv/bin/python || (python3 -m venv .dev/k8svenv && .dev/k8svenv/bin/pip install -q 'kubernetes-validate==1.37.*' 'PyYAML>=6')
	@.dev/k8svenv/bin/python deploy/k8s/validate.py
