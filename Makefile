# The front door: `make test` runs every check CI runs; `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
STATICCHECK_VERSION := v0.8.1

.PHONY: help test unit vet lint fuzz tools sandbox-tools sandbox

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

test: vet unit ## go vet and every test (what CI runs)

vet:
	$(GO) vet ./...

unit: sandbox-tools ## all Go tests of the root module
	$(GO) test -count=1 ./...

# The local AWS stand-in runs moto from a project-local virtualenv. The stamp holds the
# requirements it was installed from: pip runs only when .venv is missing or they changed.
VENV := .venv
SANDBOX_STAMP := $(VENV)/.sandbox-requirements

sandbox-tools: $(SANDBOX_STAMP) ## create .venv with moto for the local AWS stand-in

$(SANDBOX_STAMP): sandbox/requirements.txt
	@if cmp -s sandbox/requirements.txt $@ && [ -x $(VENV)/bin/python3 ]; then touch $@; exit 0; fi; \
	set -e; \
	[ -x $(VENV)/bin/python3 ] || python3 -m venv $(VENV); \
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r sandbox/requirements.txt; \
	cp sandbox/requirements.txt $@

sandbox: sandbox-tools ## run the local AWS stand-in seeded with sandbox/scenarios/demo.json
	$(GO) run ./cmd/keyrotator sandbox --scenario sandbox/scenarios/demo.json

lint: ## gofmt and staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

fuzz: ## run the policy fuzzer for 60 s
	$(GO) test ./pkg/policy -run '^$$' -fuzz FuzzPlanUser -fuzztime 60s
