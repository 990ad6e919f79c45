mock_provider "aws" {
  override_during = plan
  source          = "../../tests/hcl/mocks/aws"
}

variables {
  name = "realtime"
}

run "names" {
  command = plan

  assert {
    condition     = output.bucket_name == "ceap-workflow-realtime-123456789012"
    error_message = "bucket name must be ceap-workflow-{name}-{account_id}"
  }
  assert {
    condition     = aws_sqs_queue.queue.name == "ceap-workflow-realtime-queue" && aws_sqs_queue.dlq.name == "ceap-workflow-realtime-dlq"
    error_message = "queue names must be ceap-workflow-{name}-queue / -dlq"
  }
  assert {
    condition     = aws_dynamodb_table.candidates.name == "ceap-workflow-realtime-candidates"
    error_message = "table name must be ceap-workflow-{name}-candidates"
  }
  assert {
    condition     = output.queue_arn == "arn:aws:sqs:us-east-1:123456789012:ceap-workflow-realtime-queue"
    error_message = "queue ARN must be built from the exact name"
  }
  assert {
    condition     = output.table_arn == "arn:aws:dynamodb:us-east-1:123456789012:table/ceap-workflow-realtime-candidates"
    error_message = "table ARN must be built from the exact name"
  }
  assert {
    condition     = output.event_bus_arn == "arn:aws:events:us-east-1:123456789012:event-bus/ceap-workflow-realtime-events"
    error_message = "event bus ARN"
  }
  assert {
    condition     = aws_kms_alias.this.name == "alias/ceap-workflow-realtime"
    error_message = "key alias"
  }
}

run "names_second_workflow" {
  command = plan

  variables {
    name = "analytics"
  }

  assert {
    condition     = output.bucket_name == "ceap-workflow-analytics-123456789012"
    error_message = "bucket name follows the workflow name"
  }
  assert {
    condition     = aws_sqs_queue.queue.name == "ceap-workflow-analytics-queue" && aws_sqs_queue.dlq.name == "ceap-workflow-analytics-dlq"
    error_message = "queue names follow the workflow name"
  }
  assert {
    condition     = aws_dynamodb_table.candidates.name == "ceap-workflow-analytics-candidates" && aws_cloudwatch_event_bus.this.name == "ceap-workflow-analytics-events"
    error_message = "table and bus names follow the workflow name"
  }
}

run "bucket_hygiene" {
  command = plan

  assert {
    condition     = module.bucket.policy.Statement[0].Effect == "Deny" && module.bucket.policy.Statement[0].Condition.Bool["aws:SecureTransport"] == "false"
    error_message = "bucket policy must deny non-TLS requests"
  }
  assert {
    condition = toset(module.bucket.policy.Statement[0].Resource) == toset([
      "arn:aws:s3:::ceap-workflow-realtime-123456789012",
      "arn:aws:s3:::ceap-workflow-realtime-123456789012/*",
    ])
    error_message = "TLS-only policy must cover the bucket and its objects"
  }
  assert {
    condition     = output.bucket_policy.Statement[0].Action == "s3:*" && output.bucket_policy.Statement[0].Principal == "*"
    error_message = "TLS deny applies to every principal and action"
  }
  assert {
    condition     = module.bucket.lifecycle_rules[0].filter[0].prefix == "executions/" && module.bucket.lifecycle_rules[0].expiration[0].days == 7
    error_message = "executions/ expires after 7 days"
  }
  assert {
    condition     = module.bucket.lifecycle_rules[1].noncurrent_version_expiration[0].noncurrent_days == 30
    error_message = "noncurrent versions expire"
  }
}

run "queues" {
  command = plan

  assert {
    condition     = jsondecode(aws_sqs_queue.queue.redrive_policy).maxReceiveCount == 3
    error_message = "maxReceiveCount must be 3"
  }
  assert {
    condition     = aws_sqs_queue.queue.visibility_timeout_seconds == 360
    error_message = "visibility timeout must exceed the 5-minute EXPRESS run held by the pipe"
  }
  assert {
    condition     = aws_sqs_queue.queue.max_message_size == 262144
    error_message = "the queue refuses messages over Step Functions' 256 KiB execution input"
  }
  assert {
    condition     = aws_sqs_queue.queue.kms_master_key_id == aws_kms_key.this.arn && aws_sqs_queue.dlq.kms_master_key_id == aws_kms_key.this.arn
    error_message = "both queues are encrypted with the workflow key"
  }
  assert {
    condition     = jsondecode(aws_sqs_queue.queue.redrive_policy).deadLetterTargetArn == "arn:aws:sqs:us-east-1:123456789012:ceap-workflow-realtime-dlq"
    error_message = "the queue dead-letters into its own DLQ"
  }
  assert {
    condition = jsondecode(aws_sqs_queue.dlq.redrive_allow_policy) == {
      redrivePermission = "byQueue"
      sourceQueueArns   = ["arn:aws:sqs:us-east-1:123456789012:ceap-workflow-realtime-queue"]
    }
    error_message = "only the workflow queue may use the DLQ (set on the DLQ itself)"
  }
  assert {
    condition     = jsondecode(aws_sqs_queue.dlq.redrive_allow_policy).sourceQueueArns == [output.queue_arn]
    error_message = "the ARN the DLQ allows is the workflow queue's ARN"
  }
  assert {
    condition     = aws_sqs_queue.dlq.message_retention_seconds == 1209600
    error_message = "the DLQ keeps messages 14 days"
  }
}

run "table" {
  command = plan

  assert {
    condition     = aws_dynamodb_table.candidates.hash_key == "PK" && aws_dynamodb_table.candidates.range_key == "SK"
    error_message = "table keys are PK/SK"
  }
  assert {
    condition = toset([for g in aws_dynamodb_table.candidates.global_secondary_index : "${g.name}:${g.hash_key}:${g.range_key}"]) == toset([
      "GSI1:GSI1PK:GSI1SK",
      "GSI2:GSI2PK:GSI2SK",
    ])
    error_message = "two GSIs: program/channel/score and program/date"
  }
  assert {
    condition = toset([for a in aws_dynamodb_table.candidates.attribute : "${a.name}:${a.type}"]) == toset([
      "PK:S", "SK:S", "GSI1PK:S", "GSI1SK:N", "GSI2PK:S", "GSI2SK:S",
    ])
    error_message = "key attributes as the Store stage writes them (GSI1SK is the numeric score)"
  }
  assert {
    condition     = aws_dynamodb_table.candidates.ttl[0].enabled && aws_dynamodb_table.candidates.ttl[0].attribute_name == "expiresAt"
    error_message = "TTL on expiresAt"
  }
  assert {
    condition     = aws_dynamodb_table.candidates.point_in_time_recovery[0].enabled
    error_message = "PITR on"
  }
  assert {
    condition     = aws_dynamodb_table.candidates.server_side_encryption[0].enabled && aws_dynamodb_table.candidates.server_side_encryption[0].kms_key_arn == aws_kms_key.this.arn
    error_message = "table encrypted with the workflow key"
  }
  assert {
    condition     = aws_dynamodb_table.candidates.billing_mode == "PAY_PER_REQUEST"
    error_message = "on-demand billing"
  }
}

run "kms_key" {
  command = plan

  variables {
    kms_log_group_names        = ["/aws/lambda/CeapWorkflow-realtime-*"]
    kms_alarm_source_arns      = ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:Ceap-realtime-Workflow-*"]
    kms_eventbridge_topic_arns = ["arn:aws:sns:us-east-1:123456789012:ceap-workflow-realtime-alarms"]
  }

  assert {
    condition     = aws_kms_key.this.enable_key_rotation
    error_message = "key rotation on"
  }
  assert {
    condition = one([
      for s in output.kms_key_policy.Statement : s.Condition.ArnLike["kms:EncryptionContext:aws:logs:arn"]
      if s.Sid == "AllowCloudWatchLogsForWorkflowLogGroups"
    ]) == ["arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/CeapWorkflow-realtime-*"]
    error_message = "CloudWatch Logs may use the key only for the workflow's log groups"
  }
  assert {
    condition     = one([for s in output.kms_key_policy.Statement : s.Principal.Service if s.Sid == "AllowCloudWatchLogsForWorkflowLogGroups"]) == "logs.us-east-1.amazonaws.com"
    error_message = "regional logs principal"
  }
  assert {
    condition     = !anytrue([for s in output.kms_key_policy.Statement : anytrue([for a in flatten([s.Action]) : startswith(a, "kms:Describe")]) if s.Sid == "AllowCloudWatchLogsForWorkflowLogGroups"])
    error_message = "no kms:Describe* for Logs: under the encryption-context condition it never matches"
  }
  assert {
    condition = jsonencode(one([
      for s in output.kms_key_policy.Statement : s.Condition
      if s.Sid == "AllowCloudWatchAlarmsToUseTheAlarmTopic"
      ])) == jsonencode({
      ArnLike      = { "aws:SourceArn" = ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:Ceap-realtime-Workflow-*"] }
      StringEquals = { "aws:SourceAccount" = "123456789012" }
    })
    error_message = "CloudWatch may use the key only for this account's workflow alarms (confused deputy)"
  }
  assert {
    condition     = one([for s in output.kms_key_policy.Statement : s.Principal.AWS if s.Sid == "EnableIamPoliciesInThisAccount"]) == "arn:aws:iam::123456789012:root"
    error_message = "key policy delegates to IAM of this account only"
  }
  assert {
    condition = jsonencode(one([for s in output.kms_key_policy.Statement : s if s.Sid == "AllowEventBridgeToPublishToTheAlarmTopic"])) == jsonencode({
      Sid       = "AllowEventBridgeToPublishToTheAlarmTopic"
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
      Resource  = "*"
      Condition = { StringEquals = { "kms:EncryptionContext:aws:sns:topicArn" = ["arn:aws:sns:us-east-1:123456789012:ceap-workflow-realtime-alarms"] } }
    })
    error_message = "EventBridge may use the key only to publish to the named topics"
  }
}

run "kms_key_without_service_grants" {
  command = plan

  assert {
    condition     = [for s in output.kms_key_policy.Statement : s.Sid] == ["EnableIamPoliciesInThisAccount"]
    error_message = "no service may use the key unless its alarms, topics or log groups are named"
  }
}

run "rejects_bad_name" {
  command = plan

  variables {
    name = "Real_Time"
  }

  expect_failures = [var.name]
}
