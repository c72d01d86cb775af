# The front door: `make test` runs every check CI runs; `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
STATICCHECK_VERSION := v0.8.1

.PHONY: help test unit vet lint fuzz tools sandbox-tools sandbox

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

test: vet unit infra-test ## go vet and every test (what CI runs)

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
	cd infra && $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

fuzz: ## run the policy fuzzer for 60 s
	$(GO) test ./pkg/policy -run '^$$' -fuzz FuzzPlanUser -fuzztime 60s

# --- infra: the CDK app (infra/ is its own Go module, out of the root's `go test ./...`) ---
.PHONY: infra-tools infra-test lambdas synth
LAMBDAS := list-accounts scan-and-rotate notify-user cleanup-report
# cfn-lint and checkov get a virtualenv of their own inside the project's .venv/: checkov
# pins boto3 exactly (1.35.49), which must not fight the sandbox's moto pins in .venv.
INFRA_VENV := .venv/infra-tools
INFRA_TOOLS_STAMP := .venv/.infra-tools.stamp
NODE_STAMP := node_modules/.package-lock.stamp
# The pinned Node 22 (package.json) runs the aws-cdk CLI and the jsii runtime of the Go CDK.
# No AWS credentials or lookups are needed: synth and the tests work offline.
INFRA_ENV := PATH="$(CURDIR)/node_modules/.bin:$$PATH" INFRA_TOOLS_BIN="$(CURDIR)/$(INFRA_VENV)/bin" \
	AWS_EC2_METADATA_DISABLED=true CDK_DISABLE_CLI_TELEMETRY=true

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

$(INFRA_TOOLS_STAMP): infra/requirements.txt
	test -x $(INFRA_VENV)/bin/python || python3 -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/pip install -q -r infra/requirements.txt
	touch $@

infra-tools: $(NODE_STAMP) $(INFRA_TOOLS_STAMP) ## install the aws-cdk CLI + Node 22 (npm) and cfn-lint + checkov (.venv/infra-tools)

infra-test: infra-tools ## vet and test the CDK app: resources, IAM, cdk-nag, cfn-lint, checkov
	cd infra && $(GO) vet ./... && $(INFRA_ENV) $(GO) test -count=1 ./...

lambdas: ## build the Lambda bootstraps for linux/arm64 into build/lambda/<name>/
	@for f in $(LAMBDAS); do \
	  if [ ! -d lambdas/$$f ]; then \
	    echo "make lambdas: lambdas/$$f does not exist yet; synth and deploy need all four functions ($(LAMBDAS))" >&2; exit 1; \
	  fi; \
	  echo "build lambdas/$$f"; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -tags lambda.norpc -trimpath -ldflags="-s -w" -o build/lambda/$$f/bootstrap ./lambdas/$$f || exit 1; \
	done

synth: $(NODE_STAMP) ## synthesize the CDK app offline into cdk.out (runs `make lambdas` first, via cdk.json)
	$(INFRA_ENV) npx --no-install cdk synth --quiet --no-notices
