"""IAM and KMS enforcement in the running local cloud (on by default).

Roles are assumed through STS with boto3, as a script would; the administrator
(``test``/``test``) sets everything up and is never evaluated.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from cloudkit import ACCOUNT, REGION, unique, zip_bytes

TRUST_ACCOUNT = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture
def role(client: Callable[..., Any]) -> Callable[..., Any]:
    """``role(*statements)`` -> a client factory acting as a new role with that policy."""
    iam, sts = client("iam"), client("sts")

    def make(*statements: dict[str, Any]) -> Any:
        name = unique("role")
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST_ACCOUNT)["Role"]["Arn"]
        if statements:
            iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=policy(*statements))
        credentials = sts.assume_role(RoleArn=arn, RoleSessionName="test")["Credentials"]
        endpoint = iam.meta.endpoint_url

        def as_role(service: str) -> Any:
            return boto3.client(
                service,
                endpoint_url=endpoint,
                region_name=REGION,
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
                config=Config(retries={"total_max_attempts": 1}, s3={"addressing_style": "path"}),
            )

        as_role.role_name = name  # type: ignore[attr-defined]
        as_role.arn = arn  # type: ignore[attr-defined]
        return as_role

    return make


def denied(call: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response


def test_the_local_cloud_reports_enforcement_and_the_admin_credentials(cloud: Any) -> None:
    status = cloud.status()
    assert status["iam"] == "on"
    assert (status["access_key_id"], status["secret_access_key"]) == ("test", "test")


def test_s3_denial_is_aws_access_denied_naming_principal_action_and_resource(
    client: Callable[..., Any], role: Callable[..., Any]
) -> None:
    bucket = unique("iam")
    client("s3").create_bucket(Bucket=bucket)
    client("s3").put_object(Bucket=bucket, Key="executions/a", Body=b"a")
    client("s3").put_object(Bucket=bucket, Key="inputs/b", Body=b"b")
    as_role = role(
        {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/executions/*",
        },
        {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": f"arn:aws:s3:::{bucket}",
            "Condition": {"StringLike": {"s3:prefix": ["executions/*"]}},
        },
    )
    s3 = as_role("s3")
    assert s3.get_object(Bucket=bucket, Key="executions/a")["Body"].read() == b"a"
    assert s3.list_objects_v2(Bucket=bucket, Prefix="executions/")["KeyCount"] == 1
    response = denied(lambda: s3.get_object(Bucket=bucket, Key="inputs/b"))
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert response["Error"]["Code"] == "AccessDenied"
    assert response["Error"]["Message"] == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{as_role.role_name}/test is not authorized "
        f"to perform: s3:GetObject on resource: arn:aws:s3:::{bucket}/inputs/b because no "
        "identity-based policy allows the s3:GetObject action"
    )
    # s3:prefix: listing outside executions/ (or without a prefix) is denied.
    assert "s3:ListBucket" in denied(lambda: s3.list_objects_v2(Bucket=bucket))["Error"]["Message"]
    assert denied(lambda: s3.put_object(Bucket=bucket, Key="executions/x", Body=b""))


def test_json_services_answer_access_denied_exception(
    client: Callable[..., Any], role: Callable[..., Any]
) -> None:
    table = unique("t")
    client("dynamodb").create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    table_arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}"
    as_role = role({"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": table_arn})
    dynamodb = as_role("dynamodb")
    dynamodb.get_item(TableName=table, Key={"k": {"S": "a"}})
    response = denied(lambda: dynamodb.put_item(TableName=table, Item={"k": {"S": "a"}}))
    assert response["Error"]["Code"] == "AccessDeniedException"
    assert f"dynamodb:PutItem on resource: {table_arn}" in response["Error"]["Message"]


def test_a_policy_change_applies_to_the_next_request(
    client: Callable[..., Any], role: Callable[..., Any]
) -> None:
    queue_url = client("sqs").create_queue(QueueName=unique("q"))["QueueUrl"]
    queue_arn = client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    as_role = role({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue_arn})
    sqs = as_role("sqs")
    sqs.send_message(QueueUrl=queue_url, MessageBody="one")
    client("iam").put_role_policy(
        RoleName=as_role.role_name,
        PolicyName="p",
        PolicyDocument=policy(
            {"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": queue_arn}
        ),
    )
    message = denied(lambda: sqs.send_message(QueueUrl=queue_url, MessageBody="two"))["Error"][
        "Message"
    ]
    assert f"sqs:SendMessage on resource: {queue_arn}" in message


def test_explicit_deny_in_a_queue_policy_beats_the_identity_allow(
    client: Callable[..., Any], role: Callable[..., Any]
) -> None:
    sqs_admin = client("sqs")
    queue_url = sqs_admin.create_queue(QueueName=unique("q"))["QueueUrl"]
    queue_arn = sqs_admin.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    as_role = role({"Effect": "Allow", "Action": "sqs:*", "Resource": queue_arn})
    as_role("sqs").send_message(QueueUrl=queue_url, MessageBody="x")
    queue_policy = policy(
        {
            "Effect": "Deny",
            "Principal": {"AWS": as_role.arn},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
        }
    )
    sqs_admin.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": queue_policy})
    message = denied(lambda: as_role("sqs").send_message(QueueUrl=queue_url, MessageBody="y"))
    assert "resource-based policy explicitly denies sqs:SendMessage" in message["Error"]["Message"]


def _key(client: Callable[..., Any], *extra: dict[str, Any]) -> str:
    root = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    return str(client("kms").create_key(Policy=policy(root, *extra))["KeyMetadata"]["Arn"])


def test_sse_kms_objects_need_the_key_in_the_identity_policy(
    client: Callable[..., Any], role: Callable[..., Any]
) -> None:
    key_arn = _key(client)
    bucket = unique("kms")
    s3 = client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key_arn,
                    },
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    s3.put_object(Bucket=bucket, Key="k", Body=b"secret")
    objects = {
        "Effect": "Allow",
        "Action": ["s3:GetObject", "s3:PutObject"],
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }
    without_key = role(objects)("s3")
    message = denied(lambda: without_key.get_object(Bucket=bucket, Key="k"))["Error"]["Message"]
    assert f"kms:Decrypt on resource: {key_arn}" in message
    message = denied(lambda: without_key.put_object(Bucket=bucket, Key="n", Body=b""))["Error"][
        "Message"
    ]
    assert f"kms:GenerateDataKey on resource: {key_arn}" in message
    with_key = role(
        objects,
        {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": key_arn},
    )("s3")
    assert with_key.get_object(Bucket=bucket, Key="k")["Body"].read() == b"secret"
    with_key.put_object(Bucket=bucket, Key="n", Body=b"")


def test_sse_kms_queues_need_the_key_policy_to_delegate(
    client: Callable[..., Any], role: Callable[..., Any]
) -> None:
    """A key policy that does not delegate to IAM makes any identity grant useless."""
    sqs = client("sqs")
    only_logs = {
        "Effect": "Allow",
        "Principal": {"Service": "logs.us-east-1.amazonaws.com"},
        "Action": "kms:*",
        "Resource": "*",
    }
    admin_key = client("kms").create_key(Policy=policy(only_logs))["KeyMetadata"]["Arn"]
    queue_url = sqs.create_queue(QueueName=unique("q"), Attributes={"KmsMasterKeyId": admin_key})[
        "QueueUrl"
    ]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    everything = role(
        {"Effect": "Allow", "Action": "sqs:*", "Resource": queue_arn},
        {"Effect": "Allow", "Action": "kms:*", "Resource": admin_key},
    )("sqs")
    message = denied(lambda: everything.send_message(QueueUrl=queue_url, MessageBody="x"))["Error"][
        "Message"
    ]
    assert (
        f"kms:GenerateDataKey on resource: {admin_key} because no resource-based policy" in message
    )


def test_a_function_runs_with_its_execution_role_session(
    make_function: Callable[..., str], client: Callable[..., Any], lambda_role: str
) -> None:
    name = make_function(
        {
            "app.py": (
                "import os, boto3\n"
                "def handler(event, context):\n"
                "    return {'arn': boto3.client('sts').get_caller_identity()['Arn'],\n"
                "            'token': bool(os.environ.get('AWS_SESSION_TOKEN'))}\n"
            )
        }
    )
    result = json.loads(client("lambda").invoke(FunctionName=name)["Payload"].read())
    role_name = lambda_role.rsplit("/", 1)[-1]
    assert result["arn"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/")
    assert result["token"] is True


def test_a_function_whose_role_does_not_trust_lambda_fails_at_init(
    client: Callable[..., Any],
) -> None:
    iam = client("iam")
    arn = iam.create_role(RoleName=unique("untrusted"), AssumeRolePolicyDocument=TRUST_ACCOUNT)[
        "Role"
    ]["Arn"]
    name = unique("fn")
    lam = client("lambda")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=arn,
        Handler="app.handler",
        Code={"ZipFile": zip_bytes({"app.py": "def handler(e, c):\n    return 1\n"})},
    )
    response = lam.invoke(FunctionName=name)
    payload = json.loads(response["Payload"].read())
    assert response.get("FunctionError")
    assert payload["errorType"] == "Runtime.InvalidExecutionRole"
    assert "lambda.amazonaws.com cannot assume role" in payload["errorMessage"]


def test_delete_objects_is_authorized_per_key(
    client: Callable[..., Any], role: Callable[..., Any]
) -> None:
    bucket = unique("del")
    client("s3").create_bucket(Bucket=bucket)
    for key in ("own/a", "other/b"):
        client("s3").put_object(Bucket=bucket, Key=key, Body=b"x")
    s3 = role(
        {"Effect": "Allow", "Action": "s3:DeleteObject", "Resource": f"arn:aws:s3:::{bucket}/own/*"}
    )("s3")
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "own/a"}]})
    message = denied(
        lambda: s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "other/b"}]})
    )["Error"]["Message"]
    assert f"s3:DeleteObject on resource: arn:aws:s3:::{bucket}/other/b" in message


def test_a_missing_object_is_403_without_list_bucket_and_404_with_it(
    client: Callable[..., Any], role: Callable[..., Any]
) -> None:
    """GetObject/HeadObject of a missing key: 404 only to a caller allowed s3:ListBucket,
    403 AccessDenied naming s3:ListBucket to any other (API_GetObject, API_HeadObject)."""
    bucket = unique("missing")
    client("s3").create_bucket(Bucket=bucket)
    client("s3").put_object(Bucket=bucket, Key="executions/there", Body=b"x")
    read_all = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
    list_executions = {
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": f"arn:aws:s3:::{bucket}",
        "Condition": {"StringLike": {"s3:prefix": ["executions/*"]}},
    }
    read_only = role(read_all)
    s3 = read_only("s3")
    assert s3.get_object(Bucket=bucket, Key="executions/there")["Body"].read() == b"x"
    assert s3.head_object(Bucket=bucket, Key="executions/there")["ContentLength"] == 1
    response = denied(lambda: s3.get_object(Bucket=bucket, Key="executions/gone"))
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert response["Error"]["Code"] == "AccessDenied"
    assert response["Error"]["Message"] == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{read_only.role_name}/test is not "
        f"authorized to perform: s3:ListBucket on resource: arn:aws:s3:::{bucket} because no "
        "identity-based policy allows the s3:ListBucket action"
    )
    head = denied(lambda: s3.head_object(Bucket=bucket, Key="executions/gone"))
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 403  # HEAD: status only, no body

    # s3:ListBucket on the prefix (an s3:prefix condition): 404 under it, 403 elsewhere.
    s3 = role(read_all, list_executions)("s3")
    response = denied(lambda: s3.get_object(Bucket=bucket, Key="executions/gone"))
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == (
        "NoSuchKey",
        404,
    )
    head = denied(lambda: s3.head_object(Bucket=bucket, Key="executions/gone"))
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 404
    outside = denied(lambda: s3.get_object(Bucket=bucket, Key="inputs/gone"))
    assert outside["Error"]["Code"] == "AccessDenied"
    assert "s3:ListBucket" in outside["Error"]["Message"]

    # A deleted object (versioned bucket: a delete marker) is missing too.
    client("s3").put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    client("s3").put_object(Bucket=bucket, Key="inputs/deleted", Body=b"x")
    client("s3").delete_object(Bucket=bucket, Key="inputs/deleted")
    assert denied(lambda: s3.get_object(Bucket=bucket, Key="inputs/deleted"))["Error"]["Code"] == (
        "AccessDenied"
    )
    # Without s3:GetObject the denial names s3:GetObject, whether or not the key exists.
    s3 = role(list_executions)("s3")
    message = denied(lambda: s3.get_object(Bucket=bucket, Key="executions/gone"))["Error"][
        "Message"
    ]
    assert "perform: s3:GetObject on resource" in message
    # The administrator is never evaluated: 404.
    admin = denied(lambda: client("s3").get_object(Bucket=bucket, Key="inputs/gone"))
    assert admin["Error"]["Code"] == "NoSuchKey"


def test_a_log_group_key_must_let_cloudwatch_logs_use_it_for_that_group(
    client: Callable[..., Any],
) -> None:
    """CreateLogGroup with kmsKeyId, as the administrator (Terraform) makes it: the key
    policy decides, for the logs service and the group's ARN as encryption context."""
    logs = client("logs", retries=0)
    group = unique("/ceap/encrypted")
    group_arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}"
    for_the_group = {
        "Effect": "Allow",
        "Principal": {"Service": f"logs.{REGION}.amazonaws.com"},
        "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*"],
        "Resource": "*",
        "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": group_arn}},
    }
    allowed_key = _key(client, for_the_group)
    logs.create_log_group(logGroupName=group, kmsKeyId=allowed_key)
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["kmsKeyId"] == (
        allowed_key
    )

    other = unique("/ceap/other")  # the key names another group
    for key_id in (allowed_key, _key(client), "arn:aws:kms:us-east-1:123456789012:key/none"):
        with pytest.raises(ClientError) as refused:
            logs.create_log_group(logGroupName=other, kmsKeyId=key_id)
        error = refused.value.response["Error"]
        assert error["Code"] == "InvalidParameterException"
        assert error["Message"] == (
            "The specified KMS key does not exist or is not allowed to be used with Arn "
            f"'arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{other}'"
        )
    assert not logs.describe_log_groups(logGroupNamePrefix=other)["logGroups"]
