"""Write the bindings of configs stored before they existed (issue 16: a runner reads its actor's bindings).

A runner finds an actor's configs through the bindings table (``chalicelib/adapters/storage/configs.py``);
a config written by an older release has none, so its values would stop reaching its actors. Run this
once per tenant after upgrading (idempotent: it rewrites the same items), with the deployment's settings
in the environment (``ABACO_RESOURCE_PREFIX``, ``AWS_REGION``, ...):

    .venv/bin/python scripts/rebind_configs.py TENANT [TENANT ...]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chalicelib.services import configs
from chalicelib.wiring.backend import Backend
from chalicelib.wiring.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tenants", nargs="+", help="tenant ids whose configs to bind")
    args = parser.parse_args(argv)
    backend = Backend.from_settings(get_settings())
    for tenant in args.tenants:
        print(f"{tenant}: {configs.rebind(backend, tenant)} config(s) bound")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
