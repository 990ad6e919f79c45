# The workflow queue (the pipe's source) and its dead-letter queue.

locals {
  # ARNs from the configured names: known at plan time, still dependent on the queues.
  queue_arn = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${aws_sqs_queue.queue.name}"
  dlq_arn   = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${aws_sqs_queue.dlq.name}"
}

resource "aws_sqs_queue" "dlq" {
  name                              = local.dlq_name
  kms_master_key_id                 = aws_kms_key.this.arn
  kms_data_key_reuse_period_seconds = 300
  message_retention_seconds         = var.dlq_message_retention_seconds
}

resource "aws_sqs_queue" "queue" {
  name                              = local.queue_name
  kms_master_key_id                 = aws_kms_key.this.arn
  kms_data_key_reuse_period_seconds = 300
  visibility_timeout_seconds        = var.queue_visibility_timeout_seconds
  message_retention_seconds         = var.queue_message_retention_seconds
  receive_wait_time_seconds         = 20

  redrive_policy = jsonencode({
    deadLetterTargetArn = local.dlq_arn
    maxReceiveCount     = var.max_receive_count
  })
}

# Only the workflow queue may use the DLQ as its dead-letter target.
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [local.queue_arn]
  })
}
