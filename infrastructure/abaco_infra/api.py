"""The Chalice app (``app.py`` + ``chalicelib/``) as API Gateway + Lambda, through Chalice's CDK construct.

Chalice packages the app into a SAM template that the construct includes; we give its functions roles we
own (least privilege), log groups with retention, X-Ray on the functions, and the ``ABACO_*`` settings the
app reads. Scheduled duties (``chalicelib/api/duties.py``) come out of the same package as
EventBridge-scheduled functions.

In front of the API function, the stage's ``api_flavour`` (``StageConfig``): ``http`` (the default) is an
API Gateway HTTP API (v2, $1.00 per million requests) with one ``$default`` route to the function in payload
format 1.0, the REST proxy event Chalice's handler reads; the Lambda entry re-routes it like the REST
catch-all (``chalicelib/edge/gateway.py``). The REST API Chalice packages (its whole route table as a
Swagger body, half the template) is then left out. ``rest`` keeps Chalice's REST API ($3.50 per million),
with X-Ray on its stage. docs/operator-guide.md says what each gives up.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from aws_cdk import CfnOutput, CfnResource, Fn
from aws_cdk import aws_apigatewayv2 as apigw2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from chalice.cdk import Chalice
from constructs import Construct

from abaco_infra import policies
from abaco_infra.config import StageConfig, api_token_settings
from abaco_infra.data import DataPlane, secrets_settings
from chalicelib.edge.paths import CATCH_ALL

ROOT = Path(__file__).resolve().parents[2]
API_FUNCTION = "APIHandler"  # logical id Chalice gives the API function
DUTY_FUNCTIONS = {"publish_backlog": "PublishBacklog"}  # Chalice function name -> logical id
DUTY_TIMEOUT_S = 60
HTTP_API_MAX_TIMEOUT_MS = 30_000  # an HTTP API integration's longest timeout
REST_STAGE = "api"  # the stage Chalice deploys the REST API to
HTTP_STAGE = "$default"  # an HTTP API's stage without a path prefix
# What Chalice's package adds for the REST API: left out with the HTTP API (its route table alone is half
# the template: the HTTP API routes every request to the function, which routes it itself).
REST_RESOURCES, REST_OUTPUTS = ("RestAPI", "APIHandlerInvokePermission"), ("RestAPIId", "EndpointURL")


def api_environment(config: StageConfig, data: DataPlane) -> dict[str, str]:
    """The settings (``chalicelib/wiring/settings.py``) of the API and the duties in this stage."""
    env = {
        "ABACO_RESOURCE_PREFIX": config.prefix,
        "ABACO_POOLS": ",".join(config.actor_pools),
        "ABACO_PRIVILEGED_POOL": config.privileged_pool,
        "ABACO_ACCESS_CONTROL": config.access_control,
        "ABACO_PRODUCTION": "true",  # a deployed API refuses to start with access control "none"
        "ABACO_TENANT": config.tenant,
        "ABACO_VERSION": config.version,
        "ABACO_VISIBILITY_TIMEOUT": str(config.visibility_timeout),
        # Fernet keys read from Secrets Manager at cold start (chalicelib/adapters/crypto.py), never in the
        # function's environment; X-Ray segments per request (chalicelib/adapters/tracing.py).
        "ABACO_ENCRYPTION_KEYS_SECRET_ID": config.secret_name,
        "ABACO_TRACING": "true",
        **secrets_settings(config, data),
    }
    if config.api_server:
        env["ABACO_API_SERVER"] = config.api_server  # else the API takes it from the request (domain, stage)
    env.update(config.extra_env)
    env.update(api_token_settings(config))
    return env


def _log_group(scope: Construct, construct_id: str, name: str, config: StageConfig,
               data: DataPlane) -> logs.CfnLogGroup:
    group = logs.CfnLogGroup(scope, construct_id, log_group_name=name, retention_in_days=config.log_retention_days)
    group.apply_removal_policy(data.removal)
    return group


@contextlib.contextmanager
def _packaging(region: str) -> Iterator[None]:
    """Chalice's construct writes its package under ``./chalice.out``; keep that out of the tree (its
    assets are staged into cdk.out before we leave). Chalice builds an SDK client while packaging, which
    needs a region; it makes no call."""
    previous, previous_region = os.getcwd(), os.environ.get("AWS_DEFAULT_REGION")
    with tempfile.TemporaryDirectory(prefix="abaco-chalice-") as scratch:
        os.chdir(scratch)
        os.environ["AWS_DEFAULT_REGION"] = region
        try:
            yield
        finally:
            os.chdir(previous)
            if previous_region is None:
                os.environ.pop("AWS_DEFAULT_REGION", None)
            else:
                os.environ["AWS_DEFAULT_REGION"] = previous_region


class Api(Construct):
    def __init__(self, scope: Construct, construct_id: str, config: StageConfig, data: DataPlane,
                 arns: policies.Arns) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        names = {name: f"/abaco/{config.prefix}/{name}" for name in ("api", *DUTY_FUNCTIONS)}
        self.log_groups = {name: _log_group(self, f"Logs-{name}", group, config, data)
                           for name, group in names.items()}
        self.role = self._role("ApiRole", policies.api(
            arns, config.pool_names, [names["api"]], data.key.key_arn if config.secrets_backend == "kms" else "",
            secret_name=config.secret_name))
        self.duty_role = self._role("DutyRole", policies.duties(
            arns, config.pool_names, [names[n] for n in DUTY_FUNCTIONS]))
        stage_config = {
            "api_gateway_stage": REST_STAGE,
            "manage_iam_role": False,
            "iam_role_arn": self.role.role_arn,
            "xray": True,
            "lambda_memory_size": config.api_memory_mb,
            "lambda_timeout": config.api_timeout_s,
            "environment_variables": api_environment(config, data),
        }
        with _packaging(config.region):
            # The construct names the Chalice stage after its scope: the stack id, i.e. the stage.
            self.chalice = Chalice(scope, "Chalice", source_dir=str(ROOT), stage_config=stage_config)
        self._wire_logs_and_tracing()
        self.http_api: apigw2.CfnApi | None = None
        if config.api_flavour == "http":
            self.http_api = self._http_api(scope)
        else:
            self._rest_api()

    def _role(self, name: str, statements: list[iam.PolicyStatement]) -> iam.Role:
        role = iam.Role(self, name, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                        description=f"Abaco {name}: least privilege, see infrastructure/abaco_infra/policies.py")
        for statement in statements:
            role.add_to_policy(statement)
        return role

    def _wire_logs_and_tracing(self) -> None:
        functions = {"api": API_FUNCTION, **DUTY_FUNCTIONS}
        for name, logical_id in functions.items():
            function = self.function(logical_id)
            # JSON: the runtime's own lines are JSON too, and our lines (chalicelib/edge/lambda_start.py)
            # already are; INFO for the application, WARN for the platform's START/END/REPORT noise.
            function.add_property_override("LoggingConfig", {
                "LogGroup": self.log_groups[name].ref, "LogFormat": "JSON", "ApplicationLogLevel": "INFO",
                "SystemLogLevel": "WARN"})
            if name in DUTY_FUNCTIONS:
                # Chalice reads per-function settings only from config.json, where the role's ARN (a token
                # of this stack) cannot be; the duties get their own role and timeout here instead.
                function.add_property_override("Role", self.duty_role.role_arn)
                function.add_property_override("Timeout", DUTY_TIMEOUT_S)
        if self.config.api_reserved_concurrency > 0:
            # A request flood takes this much of the account's concurrency at most, and the API always has it.
            self.function(API_FUNCTION).add_property_override("ReservedConcurrentExecutions",
                                                              self.config.api_reserved_concurrency)

    def _rest_api(self) -> None:
        """Chalice's REST API: X-Ray on its stage, the catch-all's parameter, a name per stage, throttling."""
        rest_api = self.chalice.get_resource("RestAPI")
        rest_api.add_property_override("TracingEnabled", True)
        for verb in ("get", "post", "put", "delete", "patch"):  # the catch-all route (chalicelib/edge/gateway.py):
            # Chalice declares no path parameter for a greedy {proxy+}; API Gateway's import wants one
            rest_api.add_property_override(f"DefinitionBody.paths.{CATCH_ALL}.{verb}.parameters",
                                           [{"name": "proxy", "in": "path", "required": True, "type": "string"}])
        rest_api.add_property_override("Name", self.config.prefix)  # per stage: metrics and alarms tell them apart
        rest_api.add_property_override("MethodSettings", [{
            "ResourcePath": "/*", "HttpMethod": "*", "ThrottlingRateLimit": self.config.api_throttle_rps,
            "ThrottlingBurstLimit": self.config.api_throttle_burst}])

    def _http_api(self, scope: Construct) -> apigw2.CfnApi:
        """An HTTP API whose ``$default`` route sends every request to the API function (payload 1.0), with
        the stage's throttling; Chalice's REST API, its permission and outputs are removed."""
        template = self.chalice.sam_template
        for dropped in [*map(template.get_resource, REST_RESOURCES), *map(template.get_output, REST_OUTPUTS)]:
            if not dropped.node.scope.node.try_remove_child(dropped.node.id):  # type: ignore[union-attr]
                raise RuntimeError(f"could not leave out {dropped.node.id} of Chalice's package")
        function = self.function(API_FUNCTION)
        api = apigw2.CfnApi(self, "HttpApi", name=self.config.prefix, protocol_type="HTTP",
                            description=f"Abaco {self.config.stage}: every route to the API function")
        integration = apigw2.CfnIntegration(
            self, "HttpIntegration", api_id=api.ref, integration_type="AWS_PROXY",
            integration_uri=function.get_att("Arn").to_string(), payload_format_version="1.0",
            timeout_in_millis=min(self.config.api_timeout_s * 1000, HTTP_API_MAX_TIMEOUT_MS))
        apigw2.CfnRoute(self, "HttpDefaultRoute", api_id=api.ref, route_key="$default",
                        target=f"integrations/{integration.ref}")
        apigw2.CfnStage(self, "HttpStage", api_id=api.ref, stage_name=HTTP_STAGE, auto_deploy=True,
                        default_route_settings=apigw2.CfnStage.RouteSettingsProperty(
                            throttling_rate_limit=self.config.api_throttle_rps,
                            throttling_burst_limit=self.config.api_throttle_burst))
        lambda_.CfnPermission(self, "HttpInvoke", action="lambda:InvokeFunction", function_name=function.ref,
                              principal="apigateway.amazonaws.com", source_arn=Fn.sub(
                                  "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${Api}/*",
                                  {"Api": api.ref}))
        CfnOutput(scope, "EndpointURL", value=f"{api.attr_api_endpoint}/")
        return api

    @property
    def gateway_metrics(self) -> tuple[dict[str, str], str]:
        """The dimensions of the gateway's CloudWatch metrics and the name of its 5xx metric (the alarms)."""
        if self.http_api is not None:
            return {"ApiId": self.http_api.ref}, "5xx"
        return {"ApiName": self.config.prefix, "Stage": REST_STAGE}, "5XXError"

    def function(self, logical_id: str) -> CfnResource:
        return self.chalice.get_resource(logical_id)

    @property
    def api_function_name(self) -> str:
        return self.function(API_FUNCTION).ref
