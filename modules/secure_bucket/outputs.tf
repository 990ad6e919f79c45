# Names and ARNs are built from configured values so they are known at plan time
# (IAM policies and tests can use them) while still depending on the bucket.

output "bucket_name" {
  description = "Name of the bucket."
  value       = aws_s3_bucket.this.bucket
}

output "bucket_arn" {
  description = "ARN of the bucket."
  value       = "arn:${data.aws_partition.current.partition}:s3:::${aws_s3_bucket.this.bucket}"
}

output "policy" {
  description = "The bucket policy document (decoded), for tests and reviews."
  value       = local.bucket_policy
}

output "lifecycle_rules" {
  description = "The lifecycle rules in effect, for tests and reviews."
  value       = aws_s3_bucket_lifecycle_configuration.this.rule
}
