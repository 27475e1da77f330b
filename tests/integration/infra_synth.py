"""The synthesised dev stage, once per test session: ``tests/integration/test_infrastructure.py`` and
``test_infrastructure_hosts.py`` read the same template (a synth takes minutes on a loaded machine). The
default stage has the HTTP API in front of the API function; ``synthesised_rest`` is the same stage with
``-c api=rest`` (Chalice's REST API), synthesised only for the tests that read it."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from infrastructure import build
from tests import jwt_keys
from tests.infra_checks import Template

STAGE = "dev"
PREFIX = "abaco-dev"  # the dev stage's default prefix
REGION, ACCOUNT = "us-east-1", "123456789012"


@dataclass(frozen=True)
class Synthesised:
    out: Path
    seconds: float
    template: Template

    @property
    def env(self) -> dict[str, str]:
        return self.template.resources["APIHandler"]["Properties"]["Environment"]["Variables"]

    @property
    def pools(self) -> list[str]:
        """Every pool: the actor pools and the privileged pool (each has a command queue and a group)."""
        return [*self.env["ABACO_POOLS"].split(","), self.env["ABACO_PRIVILEGED_POOL"]]


def _synth(tmp_path_factory: pytest.TempPathFactory, **context: str) -> Synthesised:
    if not build.ensure_node():  # Debian's nodejs and npm, installed when missing (root on Debian)
        pytest.skip("node and npm are not installed: the pinned CDK CLI cannot run (apt-get install nodejs npm)")
    build.ensure()  # pinned aws-cdk-lib into .venv and aws-cdk@2 under infrastructure/node_modules, if missing
    out = tmp_path_factory.mktemp("cdk.out")
    pem = out.parent / f"{out.name}-jwt.pem"
    pem.write_text(jwt_keys.key_pair()[1])
    seconds = build.synth(out, {"stages": STAGE, "jwt_public_key_file": str(pem), "jwt_issuer": jwt_keys.ISSUER,
                                "jwt_audience": "abaco", **context})
    return Synthesised(out, seconds, Template(out / f"{STAGE}.template.json"))


@pytest.fixture(scope="session")
def synthesised(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesised]:
    yield _synth(tmp_path_factory)


@pytest.fixture(scope="session")
def synthesised_rest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesised]:
    yield _synth(tmp_path_factory, api="rest")


