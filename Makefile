# Backstop — build, test and run. Every target installs what it needs (npm ci) first.
SHELL := /bin/bash
NPM   ?= npm
NODE  ?= node
JEST_FLAGS ?=

.PHONY: install proto proto-check build lint test test-long localnet scenario bench clean

node_modules/.installed: package.json package-lock.json
	$(NPM) ci --no-audit --no-fund
	@touch $@

install: node_modules/.installed

## proto: lint the protobuf API and regenerate client/src/generated (offline, local ts-proto plugin)
proto: install
	npx buf lint
	npx buf generate

## proto-check: fail if the committed generated code does not match the protos
proto-check: install
	bash scripts/check-generated.sh

## build: compile TypeScript to dist/ and expose the `backstop` command to npx
build: install
	npx tsc -p tsconfig.json
	@mkdir -p node_modules/.bin && ln -sf ../../bin/backstop node_modules/.bin/backstop

lint: install
	npx buf lint
	npx tsc -p tsconfig.json --noEmit

## test: the whole suite CI runs (unit specs, integration and end-to-end tests)
test: install proto-check lint build
	npx jest --ci $(JEST_FLAGS)

## test-long: the slow reliability suite (soak, fault injection)
test-long: build
	LONG_TESTS=1 npx jest --ci --runInBand test/long $(JEST_FLAGS)

## localnet: a fresh single-validator chain on 127.0.0.1:26657 (chain-id backstop-local-1, 1 s blocks)
localnet: build
	$(NODE) --max-semi-space-size=64 bin/backstop localnet --reset $(LOCALNET_FLAGS)

## scenario: against a running localnet, LPs stake, traders lever up, the oracle crashes 30%; prints liquidations, pool payouts, the winner's payout and solvency
scenario: build
	$(NODE) dist/scripts/scenario.js $(SCENARIO_FLAGS)

## bench: the SPEC §5 benchmarks; figures go to bench/results.json
bench: build
	$(NODE) --expose-gc dist/bench/run.js

clean:
	rm -rf dist
