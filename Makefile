# The front door: `make test` runs every check CI runs; `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
STATICCHECK_VERSION := v0.8.1

.PHONY: help test check go-tests lint fmt fmt-check vet staticcheck readme-size tools seven-zip python-venv npm bench bench-scale faults mutations fuzz sandbox-tools sandbox aws-contract

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

test: tools lint go-tests infra-test ## lint and every test, installing what is missing (what CI runs)

# The fast checks: lint, then the unit tests that need no stand-in (no moto, no Lambda
# processes): the domain packages, the state machine definition and the local runner's own
# logic (both need Node 22 only to validate the ASL), and the CDK app's contract.
CHECK_PKGS := ./pkg/... ./statemachine ./sandbox/runner
check: seven-zip runner-tools lint ## fast: lint, then the unit tests that need no stand-in (no campaign, no end-to-end)
	$(GO) test -count=1 $(CHECK_PKGS)
	cd infra && $(GO) test -count=1 ./contract

# -timeout: the end-to-end package takes about 6 minutes alone on 2 cores, past go test's
# default 10 minutes per package on a loaded machine.
go-tests: sandbox-tools runner-tools seven-zip ## every Go test of the root module: unit, the fault campaign (20 seeds of the default world, 20 of the rare one), end-to-end on the stand-in
	$(GO) test -count=1 -timeout 30m ./...

lint: fmt-check vet staticcheck readme-size ## gofmt check, go vet and staticcheck for both modules (root and infra/), README.md's size

fmt: ## format every Go file of both modules (gofmt -w)
	gofmt -w $$(git ls-files '*.go')

fmt-check: ## fail, naming the files, when gofmt would change a Go file
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change (run make fmt):"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...
	$(GO) vet -tags awscontract ./sim/awsmodel
	cd infra && $(GO) vet ./...

staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	cd infra && $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

# README.md is the operator's front door: what it is, the two commands, how it works, links.
# Detail goes one link away, in docs/.
README_MAX_BYTES := 10240
readme-size:
	@n=$$(wc -c < README.md); if [ "$$n" -gt $(README_MAX_BYTES) ]; then \
		echo "README.md is $$n bytes, over $(README_MAX_BYTES) (10 KB): move the detail into docs/ and link it"; exit 1; fi

# --- the machine's tools: Go is assumed; the rest is installed with apt-get when make runs as
# root on Debian/Ubuntu (CI), or named with the command that installs it.
tools: seven-zip python-venv npm ## check or install the machine's tools: 7-Zip, python3-venv, npm

# apt_install PACKAGE WHAT: install PACKAGE when root with apt-get, else fail with a one-line hint.
define apt_install
if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
  echo "make: installing $(1) ($(2))"; \
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1); \
else \
  echo "make: $(2) is missing: install it with 'sudo apt-get install $(1)' (Debian/Ubuntu) and run make again" >&2; exit 1; \
fi
endef

seven-zip: ## 7-Zip (7zz), which checks that the credentials zip is AES-256
	@command -v 7zz >/dev/null || { $(call apt_install,7zip,7-Zip (7zz: pkg/notify and the end-to-end tests open the credentials zip with it)); }

python-venv:
	@python3 -c 'import ensurepip, venv' 2>/dev/null || { $(call apt_install,python3-venv,python3 with venv (the stand-in's moto and cfn-lint run in .venv)); }

npm:
	@command -v npm >/dev/null || { $(call apt_install,npm,npm (installs Node 22 and the aws-cdk CLI into node_modules)); }

# The local AWS stand-in runs moto from a project-local virtualenv. The stamp holds the
# requirements it was installed from: pip runs only when .venv is missing or they changed.
VENV := .venv
SANDBOX_STAMP := $(VENV)/.sandbox-requirements

sandbox-tools: python-venv $(SANDBOX_STAMP) ## create .venv with moto for the local AWS stand-in

$(SANDBOX_STAMP): sandbox/requirements.txt
	@if cmp -s sandbox/requirements.txt $@ && [ -x $(VENV)/bin/python3 ]; then touch $@; exit 0; fi; \
	set -e; \
	[ -x $(VENV)/bin/python3 ] || python3 -m venv $(VENV); \
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r sandbox/requirements.txt; \
	cp sandbox/requirements.txt $@

sandbox: sandbox-tools ## run the local AWS stand-in seeded with sandbox/scenarios/demo.json
	$(GO) run ./cmd/keyrotator sandbox --scenario sandbox/scenarios/demo.json

# The scale comparison runs once (-count 1): one table of IAM calls and time per scan, the
# rotator's credential-report scan beside the seed's per-user scan, with their ratios.
bench: ## benchmarks of the policy engine and the credential-report parser, then the scan scale table (about 1 min)
	$(GO) test -run '^$$' -bench . -benchmem -count 3 ./pkg/policy
	$(GO) test -run '^$$' -bench ParseCredentialReport -benchmem -count 3 ./pkg/scan
	$(GO) test -run '^$$' -bench '^BenchmarkScale$$' -count 1 ./pkg/scan

# The scale benchmark on the stand-in (docs/scale.md): an organization of ACCOUNTS accounts of 5
# users (default 1,000), one of 600 users due a notice and one quiet one of 1,000 users; one
# execution of the workflow beside the per-user scan; writes BENCHMARKS.md, keeping the rows of
# other sizes in its table by size. Not part of make test (CI runs sandbox/bench's
# TestBenchScaleSmall instead). ACCOUNTS=50 for less; BENCH_SCALE_FLAGS for the other flags
# (keyrotator bench-scale -h).
ACCOUNTS ?= 1000
BENCH_SCALE_FLAGS ?=
bench-scale: sandbox-tools runner-tools build-local ## the scale benchmark on the stand-in, ACCOUNTS=N (1000) mixed accounts, rotator beside per-user scan: writes BENCHMARKS.md (10-30 min on 2 cores at 1000)
	$(GO) run ./cmd/keyrotator bench-scale --bin build/local --accounts $(ACCOUNTS) $(BENCH_SCALE_FLAGS)

# The conformance sequence against a real AWS account: opt-in, never in CI. It refuses to run
# without the account named twice and two SES addresses verified there (sim/awsmodel,
# awscontract_config_test.go), and with credentials of another account.
aws-contract: ## opt-in, never in CI: the model's conformance sequence in a real AWS account (ACCOUNT= CONFIRM= SENDER= RECIPIENT=)
	KEYROTATOR_CONTRACT_ACCOUNT="$(ACCOUNT)" KEYROTATOR_CONTRACT_CONFIRM="$(CONFIRM)" \
	KEYROTATOR_CONTRACT_SENDER="$(SENDER)" KEYROTATOR_CONTRACT_RECIPIENT="$(RECIPIENT)" \
	$(GO) test -count=1 -tags awscontract -run '^TestConformanceWithAWS$$' -v ./sim/awsmodel

faults: ## the fault-injection campaign (package sim): 200 seeds x 120 days; ends "faults: S seeds, D days, F faults injected, V invariant violations"
	$(GO) run ./cmd/faults -seeds 200 -days 120

mutations: ## docs/policy.md's mutation table: undoes each fix in sim/mutations alone and runs the 20-seed campaign on it (about 1 min per patch alone; ONLY=name for some)
	$(GO) run ./cmd/mutations $(if $(ONLY),-only $(ONLY))

FUZZ_TIME ?= 60s
fuzz: ## run each policy fuzzer (FuzzPlanUser, FuzzMayAct, FuzzWriteDue) for FUZZ_TIME (60 s)
	@for f in $$($(GO) test ./pkg/policy -list '^Fuzz' | grep '^Fuzz'); do \
		echo "== $$f ($(FUZZ_TIME))"; \
		$(GO) test ./pkg/policy -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZ_TIME) || exit 1; \
	done

# --- infra: the CDK app (infra/ is its own Go module, out of the root's `go test ./...`) ---
.PHONY: infra-tools infra-test lambdas synth policies
# The functions of statemachine.Functions, in its order (TestMakefileBuildsEveryFunction).
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

infra-tools: npm python-venv $(NODE_STAMP) $(INFRA_TOOLS_STAMP) ## install Node 22 + the aws-cdk CLI (npm ci at the root) and cfn-lint + checkov (.venv/infra-tools)

infra-test: infra-tools ## test the CDK app: resources, IAM, cdk-nag, cfn-lint, checkov
	cd infra && $(INFRA_ENV) $(GO) test -count=1 ./...

# The local stand-in runs the Lambdas under the policies the app synthesizes: after a change
# to a grant, rewrite sandbox/permissions/policies.json (TestPoliciesFile fails while it is stale).
policies: infra-tools ## rewrite sandbox/permissions/policies.json from the synthesized templates
	cd infra && $(INFRA_ENV) $(GO) test -count=1 ./stacks -run '^TestPoliciesFile$$' -update

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

# --- runner: the workflow run locally (sandbox/runner), make demo ---
.PHONY: runner-tools build-local demo
runner-tools: npm $(NODE_STAMP) ## install Node 22 and aws-local-stepfunctions (npm ci at the root)

build-local: ## build the four Lambdas for this machine into build/local/<name>/bootstrap
	@for f in $(LAMBDAS); do \
		$(GO) build -tags lambda.norpc -o build/local/$$f/bootstrap ./lambdas/$$f || exit 1; done

# One command on a fresh machine: tools, the stand-in seeded with the demo scenario, one
# daily run of the workflow (output in out/demo), its summary, and the stand-in stopped.
# dry-run and rerun-account do the runbook's procedures (docs/operations.md) the same way.
DEMO_OUT ?= out/demo

.PHONY: dry-run rerun-account
demo: STANDIN_RUNS = rm -rf $(DEMO_OUT); bin/keyrotator run --endpoint $$url --out $(DEMO_OUT) --bin build/local; \
	echo; echo "emails: $(DEMO_OUT)/mail (the support email with its charts: $(DEMO_OUT)/mail/*.html), report: $(DEMO_OUT)/report.csv, logs: $(DEMO_OUT)/logs, history: $(DEMO_OUT)/execution.json"
demo: sandbox-tools runner-tools build-local ## run the whole workflow once on the demo organization (output in out/demo)
	$(with_demo_standin)

dry-run: STANDIN_RUNS = rm -rf out/dry-run; bin/keyrotator run --endpoint $$url --out out/dry-run --bin build/local --input '{"dryRun":true}'; \
	echo; echo "nothing was written and no owner emailed; what would be done: out/dry-run/report.csv"
dry-run: sandbox-tools runner-tools build-local ## the runbook's dry run, {"dryRun":true}, on the demo organization (out/dry-run)
	$(with_demo_standin)

# The daily run, then the prod account alone, as an operator re-runs a failed account: the
# same day, so the re-run writes nothing and emails no one.
rerun-account: STANDIN_RUNS = rm -rf out/rerun; bin/keyrotator run --endpoint $$url --out out/rerun/daily --bin build/local; \
	id=$$(awk -F'\t' '$$1 == "prod" {print $$2}' $$ready); input="{\"accounts\":[\"$$id\"]}"; echo; echo "re-run with $$input:"; \
	bin/keyrotator run --endpoint $$url --out out/rerun/prod --bin build/local --input "$$input"; \
	n=$$(ls out/rerun/prod/mail 2>/dev/null | wc -l); echo; echo "the re-run sent $$n emails (out/rerun/prod)"; [ "$$n" = 0 ]
rerun-account: sandbox-tools runner-tools build-local ## the runbook's single-account re-run, {"accounts":["<prod>"]}, after a daily run (out/rerun)
	$(with_demo_standin)

# with_demo_standin starts the stand-in seeded with the demo scenario, runs $(STANDIN_RUNS)
# with $$url its endpoint and $$ready its account map (NAME<TAB>ID lines), and stops it.
define with_demo_standin
@set -euo pipefail; \
$(GO) build -o bin/keyrotator ./cmd/keyrotator; \
log=$$(mktemp); ready=$$(mktemp); \
bin/keyrotator sandbox --scenario sandbox/scenarios/demo.json >$$ready 2>$$log & pid=$$!; \
trap 'kill $$pid 2>/dev/null; wait $$pid 2>/dev/null; rm -f $$log $$ready' EXIT; \
for i in $$(seq 1 120); do grep -q '^ready ' $$ready && break; \
	kill -0 $$pid 2>/dev/null || { cat $$log; exit 1; }; sleep 0.5; done; \
url=$$(sed -n 's/^ready //p' $$ready); [ -n "$$url" ] || { echo "the stand-in did not start:"; cat $$log; exit 1; }; \
echo "stand-in at $$url:"; sed 1d $$ready; \
$(STANDIN_RUNS)
endef
