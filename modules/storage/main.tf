# Durable and transient state of one workflow: its KMS key, bucket, queue + DLQ,
# candidate table and event bus. Every store is encrypted with the workflow key.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition

  bucket_name    = "ceap-workflow-${var.name}-${local.account_id}"
  queue_name     = "ceap-workflow-${var.name}-queue"
  dlq_name       = "ceap-workflow-${var.name}-dlq"
  table_name     = "ceap-workflow-${var.name}-candidates"
  event_bus_name = "ceap-workflow-${var.name}-events"
}

module "bucket" {
  source = "../secure_bucket"

  bucket_name   = local.bucket_name
  kms_key_arn   = aws_kms_key.this.arn
  force_destroy = var.force_destroy

  expiration_rules = [
    {
      id              = "expire-executions"
      prefix          = "executions/"
      expiration_days = var.executions_expiration_days
    },
  ]
  noncurrent_version_expiration_days = var.noncurrent_version_expiration_days
}

resource "aws_cloudwatch_event_bus" "this" {
  # Reactive publishes engagement events here; consumers attach their own rules.
  name = local.event_bus_name
}
