# The two commands: `make run` starts the whole system locally; `make test` runs the test suite.
# Both set up everything they need (virtual environment, Docker engine, sample images) first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt containerlib/pyproject.toml 2>/dev/null | md5sum | cut -c1-12)

.PHONY: run test venv docker images bench lint clean

run: venv docker images
	$(VPY) -m localstack.launcher

test: venv docker images
	$(VPY) -m pytest $(PYTEST_ARGS)

venv: $(STAMP)

$(STAMP):
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q -r requirements-dev.txt
	$(VPY) -m pip install -q --no-deps -e containerlib
	rm -f $(VENV)/.installed-* && touch $@

docker:
	scripts/ensure-docker.sh

images: venv docker
	$(VPY) -m images.build

bench: venv docker images
	$(VPY) -m bench $(if $(QUICK),--quick,)

lint: venv
	$(VPY) -m ruff check .

clean:
	rm -rf $(VENV) .pytest_cache
