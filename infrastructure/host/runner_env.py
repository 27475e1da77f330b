"""Start the runner host with its settings from SSM Parameter Store, then become ``python -m runners``.

The stack writes one parameter per setting under ``ABACO_SSM_PATH`` (``/<prefix>/runner/<pool>/ABACO_...``);
reading them at every start means an operator changes a setting with ``aws ssm put-parameter`` and a
``systemctl restart abaco-runner``, with nothing baked into the image or the user data. The encryption
keys come from the Secrets Manager secret ``ABACO_SECRET_ID`` (never logged, never written to disk).
"""
from __future__ import annotations

import os
import re
import sys
from typing import Any

SETTING_NAME = re.compile(r"^ABACO_[A-Z0-9_]+$")


def fetch(client: Any, path: str) -> dict[str, str]:
    """Every ``ABACO_*`` parameter directly under ``path`` (other names are ignored, never exported)."""
    settings: dict[str, str] = {}
    kwargs: dict[str, Any] = {"Path": path, "Recursive": False, "WithDecryption": True}
    while True:
        page = client.get_parameters_by_path(**kwargs)
        for parameter in page.get("Parameters", []):
            name = parameter["Name"].rsplit("/", 1)[-1]
            if SETTING_NAME.match(name):
                settings[name] = parameter["Value"]
        if not page.get("NextToken"):
            return settings
        kwargs["NextToken"] = page["NextToken"]


def target_state(read: Any) -> str:
    """The Auto Scaling target lifecycle state (``InService``, ``Warmed:Stopped``, ...) from IMDSv2."""
    return str(read("autoscaling/target-lifecycle-state") or "").strip()


def _imds(path: str) -> str | None:
    """One instance-metadata read (IMDSv2). AWS hosts only: nothing else calls this."""
    import urllib.error
    import urllib.request

    base = "http://169.254.169.254/latest"
    token = urllib.request.urlopen(urllib.request.Request(
        f"{base}/api/token", method="PUT", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}), timeout=2)
    try:
        with urllib.request.urlopen(urllib.request.Request(
                f"{base}/meta-data/{path}", headers={"X-aws-ec2-metadata-token": token.read().decode()}),
                timeout=2) as response:
            return str(response.read().decode())
    except urllib.error.HTTPError:
        return None


def in_service(read: Any = _imds) -> int:
    """systemd's ExecCondition: 0 (start) unless the host waits in the warm pool (``Warmed:*``)."""
    state = target_state(read)
    if state.startswith("Warmed:"):
        print(f"runner_env: target lifecycle state {state}: not serving from the warm pool", flush=True)
        return 1
    return 0


def main() -> int:
    if sys.argv[1:] == ["--in-service"]:
        return in_service()
    import boto3  # installed in the runner's virtual environment

    path = os.environ.get("ABACO_SSM_PATH")
    if not path:
        print("runner_env: ABACO_SSM_PATH is not set", file=sys.stderr)
        return 2
    settings = fetch(boto3.client("ssm"), path)
    print(f"runner_env: {len(settings)} settings from {path}: {sorted(settings)}", flush=True)  # names only
    secret_id = os.environ.get("ABACO_SECRET_ID")
    if secret_id:
        secret = boto3.client("secretsmanager").get_secret_value(SecretId=secret_id)
        settings["ABACO_ENCRYPTION_KEYS"] = secret["SecretString"].strip()
    os.environ.update(settings)
    os.execv(sys.executable, [sys.executable, "-m", "runners"])
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
