# The front door: `make test` runs every check CI runs; `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
STATICCHECK_VERSION := v0.8.1

.PHONY: help test unit vet lint fuzz tools

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

test: vet unit ## go vet and every test (what CI runs)

vet:
	$(GO) vet ./...

unit: ## all Go tests of the root module
	$(GO) test -count=1 ./...

lint: ## gofmt and staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

fuzz: ## run the policy fuzzer for 60 s
	$(GO) test ./pkg/policy -run '^$$' -fuzz FuzzPlanUser -fuzztime 60s
