"""The CDK app: ``cdk synth`` (see ``cdk.json``) builds one stack per stage, offline.

Context: ``-c stages=dev,prod`` (default both), ``-c prefix=NAME`` (stacks become NAME-dev, NAME-prod),
``-c region=...``, ``-c account=...`` (default: the CLI's account when it has credentials, else a dummy),
``-c api_server=https://...``, ``-c api=rest`` (Chalice's REST API instead of the HTTP API, every stage),
``-c 'stage:prod={"pools": [...]}'`` for any other field of StageConfig.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]  # abaco_infra, and chalicelib (the one source of truth)

import aws_cdk as cdk  # noqa: E402

from abaco_infra import bundle, config  # noqa: E402
from abaco_infra.stack import AbacoStack  # noqa: E402


def main() -> None:
    app = cdk.App()
    context = {key: app.node.try_get_context(key) for key in (
        "stages", "prefix", "region", "account", "api_server", "api", "access_control", "alarm_email",
        *config.JWT_CONTEXT,
        *(f"stage:{s}" for s in config.STAGES))}
    context["account"] = context.get("account") or os.environ.get("CDK_DEFAULT_ACCOUNT")
    stages = [s.strip() for s in (context.get("stages") or ",".join(config.STAGES)).split(",") if s.strip()]
    with tempfile.TemporaryDirectory(prefix="abaco-runner-bundle-") as scratch:
        bundle_dir = bundle.stage(Path(scratch) / "bundle")
        for stage in stages:
            AbacoStack(app, config.load(stage, context), bundle_dir)
        app.synth()


if __name__ == "__main__":
    main()
