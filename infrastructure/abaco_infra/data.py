"""Tables, static queues, the payload bucket and the secrets key, all from ``chalicelib.wiring.resources``.

Tables use the table definitions' own key schema, attribute definitions and indexes (the same calls the
local bootstrap makes), so the two cannot disagree; the stack adds what only AWS has: on-demand billing,
point-in-time recovery, deletion protection in production.
"""
from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from abaco_infra import policies
from abaco_infra.config import StageConfig
from chalicelib.wiring import resources


class DataPlane(Construct):
    def __init__(self, scope: Construct, construct_id: str, config: StageConfig) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        # Retained (prod) resources keep their data on update and delete, but a failed *first* deploy removes
        # them in its rollback (DeletionPolicy RetainExceptOnCreate): a retry never finds a retained table or
        # bucket of the same name in its way.
        self.removal = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE if config.retain_data else RemovalPolicy.DESTROY
        self.key = kms.Key(self, "SecretsKey", alias=f"alias/{config.prefix}-secrets", enable_key_rotation=True,
                           description=f"Abaco {config.stage}: envelope key for actor secrets",
                           removal_policy=self.removal)
        self.tables = {t.name: self._table(t) for t in resources.TABLES}
        self.bucket = self._bucket()
        self.queues: dict[str, sqs.Queue] = {}
        static = resources.static_queues(config.pool_names)
        dead_letter = [q for q in static if q.name == resources.DEAD_LETTER.name]
        for queue in dead_letter + [q for q in static if q.name != resources.DEAD_LETTER.name]:
            self.queues[queue.name] = self._queue(queue)

    @property
    def dlq(self) -> sqs.Queue:
        return self.queues[resources.DEAD_LETTER.name]

    def command_queue(self, pool: str) -> sqs.Queue:
        return self.queues[resources.command_queue(pool).name]

    def wake_queue(self, pool: str) -> sqs.Queue:
        return self.queues[resources.wake_queue(pool).name]

    def _table(self, table: resources.TableDef) -> dynamodb.CfnTable:
        indexes = [dynamodb.CfnTable.GlobalSecondaryIndexProperty(
            index_name=index["IndexName"], key_schema=_keys(index["KeySchema"]),
            projection=dynamodb.CfnTable.ProjectionProperty(projection_type=index["Projection"]["ProjectionType"],
                                                            non_key_attributes=index["Projection"].get("NonKeyAttributes")))
            for index in table.global_secondary_indexes()]
        cfn = dynamodb.CfnTable(
            self, f"Table-{table.name}",
            table_name=table.physical(self.config.prefix),
            billing_mode="PAY_PER_REQUEST",
            key_schema=_keys(table.key_schema()),
            attribute_definitions=[dynamodb.CfnTable.AttributeDefinitionProperty(
                attribute_name=a["AttributeName"], attribute_type=a["AttributeType"])
                for a in table.attribute_definitions()],
            global_secondary_indexes=indexes or None,
            time_to_live_specification=dynamodb.CfnTable.TimeToLiveSpecificationProperty(
                enabled=True, attribute_name=table.ttl_attribute) if table.ttl_attribute else None,
            point_in_time_recovery_specification=dynamodb.CfnTable.PointInTimeRecoverySpecificationProperty(
                point_in_time_recovery_enabled=True),
            sse_specification=dynamodb.CfnTable.SSESpecificationProperty(sse_enabled=True),
            deletion_protection_enabled=self.config.retain_data,
        )
        cfn.apply_removal_policy(self.removal)
        return cfn

    def _bucket(self) -> s3.Bucket:
        return s3.Bucket(
            self, "Payloads", bucket_name=policies.payload_bucket(self.config.prefix),
            encryption=s3.BucketEncryption.S3_MANAGED, block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True, versioned=False, removal_policy=self.removal,
            lifecycle_rules=[s3.LifecycleRule(
                id="expire-payloads-and-logs", expiration=Duration.days(self.config.payload_expiry_days),
                abort_incomplete_multipart_upload_after=Duration.days(1))])

    def _queue(self, queue: resources.QueueDef) -> sqs.Queue:
        dead_letter = (sqs.DeadLetterQueue(queue=self.dlq, max_receive_count=resources.INBOX_MAX_RECEIVE_COUNT)
                       if queue.dead_letter else None)
        return sqs.Queue(
            self, f"Queue-{queue.name}", queue_name=queue.physical(self.config.prefix),
            visibility_timeout=Duration.seconds(queue.visibility_timeout),
            retention_period=Duration.seconds(resources.SQS_MAX_RETENTION_SECONDS),
            max_message_size_bytes=resources.SQS_MAX_MESSAGE_BYTES,
            encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
            dead_letter_queue=dead_letter, removal_policy=self.removal)


def _keys(schema: list[dict[str, str]]) -> list[dynamodb.CfnTable.KeySchemaProperty]:
    return [dynamodb.CfnTable.KeySchemaProperty(attribute_name=k["AttributeName"], key_type=k["KeyType"])
            for k in schema]


def secrets_settings(config: StageConfig, data: DataPlane) -> dict[str, str]:
    """What the API and the runners share about the data plane: how config secrets are sealed (KMS envelopes
    under the stage's key, by ARN: the API encrypts, the runners decrypt into the container's environment)
    and the payload bucket's name (account and region are part of it)."""
    settings = {"ABACO_SECRETS_BACKEND": config.secrets_backend, "ABACO_PAYLOAD_BUCKET": data.bucket.bucket_name}
    if config.secrets_backend == "kms":
        settings["ABACO_KMS_KEY_ID"] = data.key.key_arn
    return settings
