output "function_name" {
  description = "Function name (CeapWorkflow-{name}-{Stage}Lambda)."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "Unqualified function ARN (built from the name, so it is known at plan time)."
  value       = "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${aws_lambda_function.this.function_name}"
}

output "handler" {
  description = "Handler the function runs."
  value       = aws_lambda_function.this.handler
}

output "role_name" {
  description = "Execution role name."
  value       = aws_iam_role.this.name
}

output "log_group_name" {
  description = "The function's log group."
  value       = aws_cloudwatch_log_group.this.name
}

output "memory_size" {
  description = "Memory in MB in effect."
  value       = local.memory_size
}

output "timeout" {
  description = "Timeout in seconds in effect."
  value       = local.timeout
}

output "reserved_concurrency" {
  description = "Reserved concurrent executions in effect; null: none reserved (the account's unreserved pool)."
  value       = aws_lambda_function.this.reserved_concurrent_executions
}

output "policy" {
  description = "The execution role's inline policy (decoded), for tests and reviews."
  value       = local.policy
}

output "code_s3_location" {
  description = "S3 object the function's code is deployed from ({bucket, key})."
  value = {
    bucket = aws_lambda_function.this.s3_bucket
    key    = aws_lambda_function.this.s3_key
  }
}

output "environment" {
  description = "The function's environment variables (the module's required ones included)."
  value       = local.environment
}
