# The workflow queue (the pipe's source) and its dead-letter queue.
#
# Two resources, one dependency: the queue's redrive policy names the DLQ, and SQS
# checks that a dead-letter target exists when the policy is set, so the queue is
# created after the DLQ. The DLQ's redrive-allow policy names the queue by the ARN
# built from its configured name, so it is set when the DLQ is created: no cycle and
# no third resource (aws_sqs_queue_redrive_allow_policy) waiting on both queues.

locals {
  # The queue's ARN from its configured name alone: the DLQ names it before it exists.
  queue_arn_by_name = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.queue_name}"

  # ARNs for consumers: known at plan time, still dependent on the queues.
  queue_arn = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${aws_sqs_queue.queue.name}"
  dlq_arn   = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${aws_sqs_queue.dlq.name}"
}

resource "aws_sqs_queue" "dlq" {
  name                              = local.dlq_name
  kms_master_key_id                 = aws_kms_key.this.arn
  kms_data_key_reuse_period_seconds = 300
  message_retention_seconds         = var.dlq_message_retention_seconds

  # Only the workflow queue may use the DLQ as its dead-letter target.
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [local.queue_arn_by_name]
  })
}

resource "aws_sqs_queue" "queue" {
  name                              = local.queue_name
  kms_master_key_id                 = aws_kms_key.this.arn
  kms_data_key_reuse_period_seconds = 300
  visibility_timeout_seconds        = var.queue_visibility_timeout_seconds
  message_retention_seconds         = var.queue_message_retention_seconds
  receive_wait_time_seconds         = 20
  # A message becomes an execution input (the pipe's one-element batch), and Step
  # Functions takes at most 256 KiB: SQS allows 1 MiB since 2025, so a larger message
  # would be accepted here and fail at StartExecution, into the DLQ. Refuse it at
  # SendMessage instead (hashicorp/aws 5.x defaults to this value; 6.x may not).
  max_message_size = 262144

  redrive_policy = jsonencode({
    deadLetterTargetArn = local.dlq_arn
    maxReceiveCount     = var.max_receive_count
  })
}

# Deployments made before the redrive-allow policy moved inline: forget the old
# resource instead of destroying it (its delete would clear the policy the DLQ now sets).
removed {
  from = aws_sqs_queue_redrive_allow_policy.dlq

  lifecycle {
    destroy = false
  }
}
