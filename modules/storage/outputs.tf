# Names and ARNs come from configured values (known at plan time) while keeping the
# dependency on the resource that carries them.

output "bucket_name" {
  description = "Workflow bucket name (ceap-workflow-{name}-{account_id})."
  value       = module.bucket.bucket_name
}

output "bucket_arn" {
  description = "Workflow bucket ARN."
  value       = module.bucket.bucket_arn
}

output "bucket_policy" {
  description = "The workflow bucket policy (decoded)."
  value       = module.bucket.policy
}

output "lifecycle_rules" {
  description = "The workflow bucket's lifecycle rules in effect, for tests and reviews."
  value       = module.bucket.lifecycle_rules
}

output "queue_name" {
  description = "Workflow queue name."
  value       = aws_sqs_queue.queue.name
}

output "queue_arn" {
  description = "Workflow queue ARN."
  value       = local.queue_arn
}

output "queue_url" {
  description = "Workflow queue URL."
  value       = aws_sqs_queue.queue.url
}

output "queue_visibility_timeout_seconds" {
  description = "Visibility timeout of the workflow queue in effect."
  value       = aws_sqs_queue.queue.visibility_timeout_seconds
}

output "dlq_name" {
  description = "Dead-letter queue name."
  value       = aws_sqs_queue.dlq.name
}

output "dlq_arn" {
  description = "Dead-letter queue ARN."
  value       = local.dlq_arn
}

output "dlq_url" {
  description = "Dead-letter queue URL."
  value       = aws_sqs_queue.dlq.url
}

output "table_name" {
  description = "Candidate table name."
  value       = aws_dynamodb_table.candidates.name
}

output "table_arn" {
  description = "Candidate table ARN."
  value       = "arn:${local.partition}:dynamodb:${local.region}:${local.account_id}:table/${aws_dynamodb_table.candidates.name}"
}

output "event_bus_name" {
  description = "EventBridge bus the Reactive stage publishes to."
  value       = aws_cloudwatch_event_bus.this.name
}

output "event_bus_arn" {
  description = "EventBridge bus ARN."
  value       = "arn:${local.partition}:events:${local.region}:${local.account_id}:event-bus/${aws_cloudwatch_event_bus.this.name}"
}

output "kms_key_arn" {
  description = "ARN of the workflow KMS key."
  value       = aws_kms_key.this.arn
}

output "kms_key_policy" {
  description = "The key policy (decoded), for tests and reviews."
  value       = local.kms_policy
}
