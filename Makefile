# The two commands: `make run` starts the whole system locally; `make test` runs the test suite.
# Both set up everything they need (virtual environment, Docker engine, sample images) first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt containerlib/pyproject.toml client/pyproject.toml 2>/dev/null | md5sum | cut -c1-12)

.PHONY: run test venv clients docker images bench soak lint clean synth infra-deps preflight

run: venv docker images
	$(VPY) -m local.launcher

# Test files run on TEST_WORKERS processes (pytest-xdist; each file stays on one, with its fixtures); most
# integration tests wait on containers and polls, so two keep this 2-core machine busy. TEST_WORKERS=0: one.
# infra-deps first: the CDK tests of both processes find aws-cdk-lib and the CDK CLI installed.
TEST_WORKERS ?= 2
test: venv clients docker images infra-deps
	$(VPY) -m pytest $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile) $(PYTEST_ARGS)

venv: $(STAMP)

$(STAMP):
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q -r requirements-dev.txt
	$(VPY) -m pip install -q --no-deps -e containerlib
	$(VPY) -m pip install -q --no-deps -e client  # the abaco_sdk package and the `abaco` command
	rm -f $(VENV)/.installed-* && touch $@

# The real Abaco and Tapis clients (tapipy, agavepy from PyPI, unmodified) in a venv of their own: their pins
# conflict with the dev tools, and PyPI's agavepy would shadow the in-container library (containerlib/agavepy).
CLIENTS := .venv-clients
CLIENTS_STAMP := $(CLIENTS)/.installed-$(shell md5sum < requirements-clients.txt | cut -c1-12)
clients: $(CLIENTS_STAMP)

$(CLIENTS_STAMP): requirements-clients.txt
	test -x $(CLIENTS)/bin/python || $(PYTHON) -m venv $(CLIENTS)
	$(CLIENTS)/bin/python -m pip install -q -r requirements-clients.txt
	rm -f $(CLIENTS)/.installed-* && touch $@

docker:
	scripts/ensure-docker.sh

images: venv docker
	$(VPY) -m images.build

bench: venv docker images
	$(VPY) -m bench $(if $(QUICK),--quick,)

# The nightly tier (reliability plan T28, not part of `make test`): locust load on the API for 2 minutes,
# then a runner soak of MINUTES (default 30; MINUTES=3 is the short mode); NIGHTLY=load or NIGHTLY=soak
# runs one of them. Writes bench/results/nightly.json and fails when a verdict is missed.
NIGHTLY ?= load,soak
MINUTES ?= 30
soak: venv docker images
	$(VPY) -m bench --suites $(NIGHTLY) --minutes $(MINUTES)

# The CDK app (infrastructure/): pinned aws-cdk-lib into .venv and the pinned npm CLI aws-cdk@2 under
# infrastructure/node_modules (never global), then `cdk synth` offline into infrastructure/cdk.out and
# cfn-lint on the templates; fails when either fails. Every stage needs its token settings:
# CONTEXT='-c jwt_public_key="$$(cat key.pem)" -c jwt_issuer=... -c jwt_audience=...'.
synth: infra-deps
	$(VPY) -m infrastructure.build synth $(CONTEXT)

infra-deps: venv
	$(VPY) -m infrastructure.build deps

# Before a deploy: checks the account (secret, bucket and table names, CDK bootstrap, quotas) with the
# caller's credentials; STAGE=prod by default, CONTEXT="-c jwt_public_key=... -c prefix=..." as for cdk.
STAGE ?= prod
preflight: infra-deps
	$(VPY) -m infrastructure preflight --stage $(STAGE) $(CONTEXT)

lint: venv
	$(VPY) -m ruff check .

clean:
	rm -rf $(VENV) $(CLIENTS) .pytest_cache
