"""Reading a synthesised CloudFormation template in tests: resources by type, values with their intrinsic
functions resolved as far as the IAM checks need, and every IAM statement with the role it belongs to."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Actions AWS does not scope to resources: the only ones that may have Resource "*".
STAR_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "cloudwatch:PutMetricData",
                "ecr:GetAuthorizationToken"}
# The template names account and region by pseudo parameter (Aws.ACCOUNT_ID, Aws.REGION); reading it back,
# they stand for the offline synthesis's dummy account and default region.
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"}


@dataclass(frozen=True)
class Statement:
    role: str  # logical id of the role the policy is attached to
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: dict[str, Any]


def resolve(value: Any) -> Any:
    """Strings stay; Fn::Join joins; Ref and Fn::GetAtt become ``<Ref X>`` / ``<X.Attr>`` markers."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return [resolve(v) for v in value]
    if isinstance(value, dict) and len(value) == 1:
        (fn, arg), = value.items()
        if fn == "Fn::Join":
            return arg[0].join(str(resolve(p)) for p in arg[1])
        if fn == "Ref":
            return PSEUDO.get(arg, f"<Ref {arg}>")
        if fn == "Fn::GetAtt":
            return f"<{arg[0]}.{arg[1]}>"
    if isinstance(value, dict):
        return {k: resolve(v) for k, v in value.items()}
    return value


class Template:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.body: dict[str, Any] = json.loads(path.read_text())
        self.resources: dict[str, Any] = self.body["Resources"]

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v.get("Properties", {}) for k, v in self.resources.items() if v["Type"] == kind}

    def resolve(self, value: Any) -> Any:
        return resolve(value)

    def statements(self) -> list[Statement]:
        """Allow statements of every policy: AWS::IAM::Policy (attached to roles), the managed policies CDK
        adds to a role whose inline policy passes IAM's size limit (its "OverflowPolicy"), and inline role
        policies."""
        out: list[Statement] = []
        for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for props in self.of_type(kind).values():
                for role in props.get("Roles", []):
                    out += self._statements(role["Ref"], props["PolicyDocument"])
        for logical_id, props in self.of_type("AWS::IAM::Role").items():
            for policy in props.get("Policies", []):
                out += self._statements(logical_id, policy["PolicyDocument"])
        return out

    def _statements(self, role: str, document: dict[str, Any]) -> list[Statement]:
        found = []
        for raw in document["Statement"]:
            assert raw["Effect"] == "Allow", f"{role}: unexpected {raw['Effect']}"
            actions = raw["Action"] if isinstance(raw["Action"], list) else [raw["Action"]]
            res = self.resolve(raw["Resource"])
            found.append(Statement(role, tuple(actions), tuple(res if isinstance(res, list) else [res]),
                                   self.resolve(raw.get("Condition", {}))))
        return found
