output "job_name" {
  description = "Glue job name (ceap-workflow-{name}-heavy-etl)."
  value       = aws_glue_job.this.name
}

output "job_arn" {
  description = "Glue job ARN (built from the name, known at plan time)."
  value       = "arn:${local.partition}:glue:${local.region}:${local.account_id}:job/${aws_glue_job.this.name}"
}

output "role_name" {
  description = "Job role name."
  value       = aws_iam_role.this.name
}

output "script_s3_uri" {
  description = "Where the job script was uploaded."
  value       = aws_glue_job.this.command[0].script_location
}

output "code_s3_uri" {
  description = "Where the stage code zip (--extra-py-files) was uploaded."
  value       = local.default_arguments["--extra-py-files"]
}

output "history_uri" {
  description = "Customer-history dataset the job reads."
  value       = local.history_uri
}

output "log_group_names" {
  description = "The job's log groups."
  value       = local.log_group_names
}

output "default_arguments" {
  description = "Default arguments of the job."
  value       = local.default_arguments
}

output "policy" {
  description = "The job role's inline policy (decoded), for tests and reviews."
  value       = local.policy
}
