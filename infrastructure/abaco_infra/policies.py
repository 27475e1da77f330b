"""Every IAM statement of the stack, in one place so that least privilege can be read and tested.

ARNs are built from the physical names in ``chalicelib.wiring.resources`` (all under the stage prefix); the only
``*`` resources are for actions that have no resource-level permissions (X-Ray, CloudWatch PutMetricData,
the latter limited to our namespace by a condition). ``tests/integration/test_infrastructure.py`` checks the
synthesised template against these rules.
"""
from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws
from aws_cdk import aws_iam as iam

from chalicelib.adapters.kms import PURPOSE
from chalicelib.wiring import resources

SECRET_CONTEXT_KEY = "purpose"  # the encryption-context key that names what an envelope seals

TABLE_READ = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan",
              "dynamodb:ConditionCheckItem", "dynamodb:DescribeTable"]
TABLE_WRITE = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"]
INBOX_MANAGE = ["sqs:CreateQueue", "sqs:DeleteQueue", "sqs:TagQueue", "sqs:ListQueueTags", "sqs:PurgeQueue",
                "sqs:SetQueueAttributes", "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"]
QUEUE_CONSUME = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                 "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
QUEUE_PRODUCE = ["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
QUEUE_INSPECT = ["sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
OBJECT_RW = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
BUCKET_LIST = ["s3:ListBucket"]  # so that HeadObject on a missing payload answers 404, not 403
XRAY = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
LOG_WRITE = ["logs:CreateLogStream", "logs:PutLogEvents"]


def payload_bucket(prefix: str) -> str:
    """The payload bucket's name: S3 names are global, so the account and region are part of it (a second
    account, region or retried first deploy never collides with a bucket of the same prefix)."""
    return f"{resources.bucket_name(prefix)}-{Aws.ACCOUNT_ID}-{Aws.REGION}"


@dataclass(frozen=True)
class Arns:
    """The ARNs of one stage, built from names (the stack passes the ``Aws.REGION``/``Aws.ACCOUNT_ID`` tokens)."""

    prefix: str
    region: str
    account: str

    def _arn(self, service: str, resource: str, region: bool = True, account: bool = True) -> str:
        return (f"arn:{Aws.PARTITION}:{service}:{self.region if region else ''}:"
                f"{self.account if account else ''}:{resource}")

    def table(self, table: resources.TableDef) -> str:
        return self._arn("dynamodb", f"table/{table.physical(self.prefix)}")

    def tables(self) -> list[str]:
        out = []
        for table in resources.TABLES:
            out += [self.table(table), f"{self.table(table)}/index/*"]
        return out

    def secret(self, name: str) -> str:
        return self._arn("secretsmanager", f"secret:{name}-??????")  # Secrets Manager appends 6 characters

    def queue(self, name: str) -> str:
        return self._arn("sqs", name)

    def inboxes(self) -> str:
        return self._arn("sqs", f"{resources.inbox_prefix(self.prefix)}*")

    def command_queue(self, pool: str) -> str:
        return self.queue(resources.command_queue(pool).physical(self.prefix))

    def start_queues(self, pool: str) -> list[str]:
        """The pool's wake and command queues (start-worker requests)."""
        return [self.queue(q.physical(self.prefix)) for q in resources.start_queues(pool)]

    def static_queue(self, queue: resources.QueueDef) -> str:
        return self.queue(queue.physical(self.prefix))

    def bucket(self) -> str:
        return self._arn("s3", payload_bucket(self.prefix), region=False, account=False)

    def parameters(self, path: str) -> str:
        return self._arn("ssm", f"parameter{path}")

    def group(self, name: str) -> str:
        return self._arn("autoscaling", f"autoScalingGroup:*:autoScalingGroupName/{name}")

    def log_group(self, name: str) -> str:
        return self._arn("logs", f"log-group:{name}:*")


def _allow(actions: list[str], res: list[str], conditions: dict | None = None) -> iam.PolicyStatement:
    return iam.PolicyStatement(actions=sorted(set(actions)), resources=res, conditions=conditions)


def _metrics() -> iam.PolicyStatement:
    return _allow(["cloudwatch:PutMetricData"], ["*"],
                  {"StringEquals": {"cloudwatch:namespace": resources.METRICS_NAMESPACE}})


def _config_secrets(actions: list[str], key_arn: str) -> iam.PolicyStatement:
    """Use of the stage's KMS key for config secrets only: every envelope carries ``purpose`` in its
    encryption context (``chalicelib/adapters/kms.py``), so the grant cannot open anything else sealed with the key."""
    return _allow(actions, [key_arn], {"StringEquals": {f"kms:EncryptionContext:{SECRET_CONTEXT_KEY}": PURPOSE}})


def api(arns: Arns, pools: list[str], log_groups: list[str], key_arn: str = "",
        secret_name: str = "") -> list[iam.PolicyStatement]:
    """The API function: tables, its inboxes (create/delete only under the inbox prefix), start requests to
    every pool (command and wake queues), the DLQ's ARN (inbox redrive), payload objects, its log group,
    X-Ray, and (``key_arn``, with the KMS secrets backend) new data keys and decryption for config secrets.
    Its Fernet keys (which still read older tokens) it reads from the ``secret_name`` secret at cold start."""
    kms = [_config_secrets(["kms:GenerateDataKey", "kms:Decrypt"], key_arn)] if key_arn else []
    if secret_name:
        kms.append(_allow(["secretsmanager:GetSecretValue"], [arns.secret(secret_name)]))
    return [*kms,
        _allow(TABLE_READ + TABLE_WRITE, arns.tables()),
        _allow(INBOX_MANAGE, [arns.inboxes()]),
        _allow(QUEUE_PRODUCE, [arns.static_queue(resources.EVENTS), *(q for p in pools for q in arns.start_queues(p))]),
        _allow(QUEUE_INSPECT, [arns.static_queue(resources.DEAD_LETTER)]),
        _allow(OBJECT_RW, [f"{arns.bucket()}/*"]),
        _allow(BUCKET_LIST, [arns.bucket()]),
        _allow(LOG_WRITE, [arns.log_group(g) for g in log_groups]),
        _allow(XRAY, ["*"]),
    ]


def duties(arns: Arns, pools: list[str], log_groups: list[str]) -> list[iam.PolicyStatement]:
    """The scheduled duties: scan the sparse index of open executions (every pool's in one Scan: the index
    only, never the table), read the host records (stale heartbeats), read command queue depths, publish
    metrics."""
    executions = arns.table(resources.EXECUTIONS)
    return [
        _allow(["dynamodb:Scan"], [f"{executions}/index/{resources.OPEN_INDEX}"]),
        _allow(["dynamodb:Scan"], [arns.table(resources.HOSTS)]),
        _allow(QUEUE_INSPECT, [arns.command_queue(p) for p in pools]),
        _metrics(),
        _allow(LOG_WRITE, [arns.log_group(g) for g in log_groups]),
        _allow(XRAY, ["*"]),
    ]


# What a runner host does to each table, per action: recorded from a real runner serving a workload on the
# emulator and compared both ways with these lists (``tests/integration/test_runner_iam.py``). The pipeline
# and the host (every pool) need PIPELINE_TABLES; the leased cluster duties (reconciler, autoscaler, cron,
# events), which only hosts of the actor pools run, need DUTY_TABLES as well. No runner writes permissions,
# roles or nonces, or reads them beyond a privileged owner's recorded role.
_GET, _PUT, _UPDATE, _DELETE = "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"
_QUERY, _SCAN, _BATCH = "dynamodb:Query", "dynamodb:Scan", "dynamodb:BatchWriteItem"
_BATCH_GET = "dynamodb:BatchGetItem"
PIPELINE_TABLES: dict[str, tuple[str, ...]] = {
    resources.ACTORS.name: (_GET, _UPDATE),  # the actor of a message; status and start failures
    resources.EXECUTIONS.name: (_GET, _UPDATE),  # claim, renew, finish, fail, release (conditional updates)
    resources.METRICS.name: (_UPDATE,),  # the actor's totals, added after a terminal write (storage/totals.py)
    resources.WORKERS.name: (_GET, _UPDATE, _DELETE, _QUERY),  # its workers' records
    resources.LOGS.name: (_PUT,),  # log chunks
    resources.RESULTS.name: (_PUT,),  # results from /_abaco_results.sock
    resources.HOSTS.name: (_GET, _PUT),  # its own record and heartbeat
    resources.CONFIG_BINDINGS.name: (_QUERY,),  # the names of the actor's configs
    resources.CONFIGS.name: (_BATCH_GET,),  # those configs (never the tenant's)
    resources.ROLES.name: (_GET,),  # a privileged actor's owner's recorded role (ABACO_PRIVILEGED_ROLE_MAX_AGE)
}
DUTY_TABLES: dict[str, tuple[str, ...]] = {
    resources.ACTORS.name: (_SCAN, _DELETE),  # cron and the reconciler walk the actors; cleanup removes the deleted
    resources.EXECUTIONS.name: (_PUT, _QUERY, _BATCH),  # cron's executions; cleanup of a deleted actor's
    resources.LOGS.name: (_QUERY, _BATCH),  # cleanup of a deleted actor's logs that have no expiry
    resources.WORKERS.name: (_PUT, _SCAN),  # the autoscaler's new workers, the reconciler's sweep
    resources.HOSTS.name: (_SCAN,),  # dead hosts, for the reconciler
    resources.DUTIES.name: (_UPDATE,),  # the duty leases (acquire, renew, release)
    resources.METRICS.name: (_DELETE,),  # a deleted actor's totals, removed by its cleanup
}
DUTY_INDEXES = {resources.EXECUTIONS.name: ((resources.OPEN_INDEX, (_SCAN,)),),  # open executions, every pool
                resources.ACTORS.name: ((resources.DELETING_INDEX, (_QUERY,)),)}  # actors being deleted


def table_grants(arns: Arns, duties: bool) -> list[iam.PolicyStatement]:
    """One statement per action set: each names exactly the tables (and index) that action is needed on."""
    by_actions: dict[tuple[str, ...], list[str]] = {}
    for table in resources.TABLES:
        actions = set(PIPELINE_TABLES.get(table.name, ())) | (set(DUTY_TABLES.get(table.name, ())) if duties else set())
        for action in sorted(actions):
            by_actions.setdefault((action,), []).append(arns.table(table))
        for index, index_actions in DUTY_INDEXES.get(table.name, ()) if duties else ():
            for action in index_actions:
                by_actions.setdefault((action,), []).append(f"{arns.table(table)}/index/{index}")
    return [_allow(list(actions), sorted(res)) for actions, res in sorted(by_actions.items())]


def _tenant_condition(tenants: tuple[str, ...]) -> dict[str, dict[str, object]]:
    """``purpose`` always; with ``tenants``, the envelope's tenant must be one of them (a pool dedicated
    to some tenants cannot open another tenant's secrets, whatever runs on its hosts)."""
    equals: dict[str, object] = {f"kms:EncryptionContext:{SECRET_CONTEXT_KEY}": PURPOSE}
    if tenants:
        equals["kms:EncryptionContext:tenant"] = sorted(tenants)
    return {"StringEquals": equals}


def runner(arns: Arns, pool: str, pools: list[str], key_arn: str, parameter_path: str, secret_name: str,
           bundle_object_arn: str, privileged: bool = False,
           tenants: tuple[str, ...] = ()) -> list[iam.PolicyStatement]:
    """A runner host of one pool. It *reads* (receive, delete, change visibility) only its pool's command
    and wake queues and the inboxes tagged with its pool; hands messages back into inboxes and poison ones
    to the DLQ, and sends execution events. The tables per action (PIPELINE_TABLES). Hosts of the actor
    pools also run the leased duties (``privileged=False``): the events queue, start requests to every
    pool, and DUTY_TABLES. The privileged pool's hosts (actors are root there) run no duties
    (``ABACO_RUNNER_DUTIES=false``) and get the smaller role. Plus payload objects, its settings in SSM, the
    encryption keys' secret, decryption of config-secret envelopes under the stack's key (``purpose`` in the
    context; with ``tenants``, only envelopes of those tenants), its own code bundle."""
    events = arns.static_queue(resources.EVENTS)
    duties = not privileged
    consume = [*arns.start_queues(pool), *([events] if duties else [])]
    produce = [arns.inboxes(), events, arns.static_queue(resources.DEAD_LETTER),
               *((q for p in pools for q in arns.start_queues(p)) if duties else ())]
    return [
        _allow(QUEUE_CONSUME, consume),
        _allow(QUEUE_CONSUME, [arns.inboxes()],
               {"StringEquals": {f"aws:ResourceTag/{resources.POOL_TAG}": pool}}),
        _allow(QUEUE_PRODUCE, produce),
        # The cleanup duty deletes the inbox of a deleted actor: only one the API tagged as deleting.
        *([_allow(["sqs:DeleteQueue"], [arns.inboxes()],
                  {"StringEquals": {f"aws:ResourceTag/{resources.DELETING_TAG}": "true"}})] if duties else []),
        *table_grants(arns, duties),
        _allow(OBJECT_RW, [f"{arns.bucket()}/*"]),
        _allow(BUCKET_LIST, [arns.bucket()]),
        _allow(["secretsmanager:GetSecretValue"], [arns.secret(secret_name)]),
        _allow(["kms:Decrypt"], [key_arn], _tenant_condition(tenants)),
        _allow(["kms:Decrypt"], [key_arn],
               {"StringEquals": {"kms:ViaService": f"secretsmanager.{arns.region}.amazonaws.com"}}),
        _allow(["ssm:GetParametersByPath", "ssm:GetParameters", "ssm:GetParameter"],
               [arns.parameters(parameter_path), arns.parameters(f"{parameter_path}/*")]),
        _allow(["s3:GetObject"], [bundle_object_arn]),
        _allow(XRAY, ["*"]),
    ]


ECR_PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
LIFECYCLE = ["autoscaling:CompleteLifecycleAction", "autoscaling:RecordLifecycleActionHeartbeat",
             "autoscaling:SetInstanceProtection"]


def host_extras(arns: Arns, group: str, log_group: str, ecr_prefixes: list[str],
                pull_through: str = "") -> list[iam.PolicyStatement]:
    """What a runner *host* needs beside the runner: its own group's scale-in protection and lifecycle
    actions (runners/host/lifecycle.py), the CloudWatch agent's log streams, and image pulls from this
    account's ECR repositories under ``ecr_prefixes`` (the credential helper asks for a token, which has no
    resource-level permission), with ``pull_through`` the Docker Hub cache's repositories it may create."""
    prefixes = [*ecr_prefixes, *([pull_through] if pull_through else [])]
    repositories = [arns._arn("ecr", f"repository/{p}/*") for p in prefixes]
    return [
        _allow(LIFECYCLE, [arns.group(group)]),
        _allow(["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"], [arns.log_group(log_group)]),
        _allow(["ecr:GetAuthorizationToken"], ["*"]),
        _allow(ECR_PULL, repositories),
        *([_allow(["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"],
                  [arns._arn("ecr", f"repository/{pull_through}/*")])] if pull_through else []),
    ]


def instance_refresh(arns: Arns, group_names: list[str]) -> list[iam.PolicyStatement]:
    """The deploy-time helper that starts an instance refresh of our runner groups on a new version."""
    groups = [arns.group(g) for g in group_names]
    return [_allow(["autoscaling:StartInstanceRefresh"], groups)]
