"""What one DynamoDB request costs on the local emulator: ``python -m bench.emulator_ops [--calls N]``.

Starts a private emulator (``local/moto_app.py``), writes an item of 30 string attributes, and times
``N`` sequential GetItems (strongly consistent), PutItems and UpdateItems of eight ``SET`` actions (the
shape of a claim or a terminal write) from one boto3 client, and ``N`` SQS cycles of an inbox message
(send, receive, delete: three requests): wall time per call, the client's CPU and the
emulator's CPU (``/proc``), each per call. Not a suite of ``make bench``: a probe for work on the emulator
(``local/moto_speedups.py``; figures in ``bench/results/profiles/README.md``).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from typing import Any

import boto3

from bench.system import cpu_of
from local import emulator

FIELDS = 8


def measure(calls: int) -> dict[str, dict[str, float]]:
    port = emulator.free_port()
    process = emulator.start(port, os.path.join(tempfile.mkdtemp(prefix="abaco-emuops-"), "emulator.log"))
    try:
        client = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        client.create_table(TableName="t", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                            BillingMode="PAY_PER_REQUEST")
        item = {"k": {"S": "a"}, **{f"f{i}": {"S": "x" * 20} for i in range(30)}}
        client.put_item(TableName="t", Item=item)
        update = {"UpdateExpression": "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(FIELDS)),
                  "ExpressionAttributeNames": {f"#f{i}": f"f{i}" for i in range(FIELDS)},
                  "ExpressionAttributeValues": {f":v{i}": {"S": "y"} for i in range(FIELDS)},
                  "ConditionExpression": "attribute_exists(k)", "ReturnValues": "ALL_NEW"}
        sqs = boto3.client("sqs", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        queue = sqs.create_queue(QueueName="q")["QueueUrl"]
        body = "x" * 1200  # about an inbox message's size
        operations: dict[str, Callable[[], Any]] = {
            "GetItem": lambda: client.get_item(TableName="t", Key={"k": {"S": "a"}}, ConsistentRead=True),
            "PutItem": lambda: client.put_item(TableName="t", Item=item),
            f"UpdateItem ({FIELDS} SET)": lambda: client.update_item(TableName="t", Key={"k": {"S": "a"}}, **update),
            "SQS send+receive+delete": lambda: _inbox_cycle(sqs, queue, body),
        }
        out = {}
        for name, call in operations.items():
            for _ in range(20):  # warm-up: connection, caches
                call()
            wall, mine, theirs = time.perf_counter(), time.process_time(), cpu_of([process.pid])
            for _ in range(calls):
                call()
            out[name] = {"wall_ms": round((time.perf_counter() - wall) * 1000 / calls, 2),
                         "client_cpu_ms": round((time.process_time() - mine) * 1000 / calls, 2),
                         "emulator_cpu_ms": round((cpu_of([process.pid]) - theirs) * 1000 / calls, 2)}
        return out
    finally:
        process.terminate()
        process.wait(10)


def _inbox_cycle(sqs: Any, queue: str, body: str) -> None:
    """What one message costs SQS: sent (with the actor version attribute), received, deleted."""
    sqs.send_message(QueueUrl=queue, MessageBody=body,
                     MessageAttributes={"v": {"DataType": "Number", "StringValue": "3"}})
    received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1, WaitTimeSeconds=1,
                                   MessageAttributeNames=["All"], AttributeNames=["All"])["Messages"]
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=received[0]["ReceiptHandle"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.emulator_ops", description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args(argv)
    for name, figures in measure(args.calls).items():
        print(f"{name:24} " + "  ".join(f"{k} {v:6.2f}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
