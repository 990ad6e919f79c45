mock_provider "aws" {
  override_during = plan
  source          = "../../tests/hcl/mocks/aws"
}

variables {
  workflow_name       = "batch"
  scripts_bucket_name = "ceap-glue-scripts-123456789012"
  script_path         = "heavy_etl.py"
  script_sha256       = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
  code_zip_path       = "stage-code.zip"
  code_zip_sha256     = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
  bucket_name         = "ceap-workflow-batch-123456789012"
  kms_key_arn         = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-000000000000"
}

run "job" {
  command = plan

  assert {
    condition     = aws_glue_job.this.name == "ceap-workflow-batch-heavy-etl"
    error_message = "job name is ceap-workflow-{name}-heavy-etl"
  }
  assert {
    condition     = aws_glue_job.this.glue_version == "5.0" && aws_glue_job.this.worker_type == "G.1X" && aws_glue_job.this.number_of_workers == 2
    error_message = "Glue 5.0, G.1X, 2 workers"
  }
  assert {
    condition     = aws_glue_job.this.timeout == 120 && aws_glue_job.this.max_retries == 0
    error_message = "2 h timeout, no job-level retries (Step Functions retries)"
  }
  assert {
    condition     = aws_glue_job.this.command[0].name == "glueetl" && aws_glue_job.this.command[0].script_location == "s3://ceap-glue-scripts-123456789012/batch/heavy_etl.py"
    error_message = "Spark job running the uploaded script"
  }
  assert {
    condition     = aws_glue_job.this.security_configuration == "ceap-workflow-batch-heavy-etl"
    error_message = "security configuration attached"
  }
  assert {
    condition     = aws_glue_job.this.default_arguments["--history_uri"] == "s3://ceap-workflow-batch-123456789012/history/"
    error_message = "history defaults to s3://{workflow bucket}/history/"
  }
  assert {
    condition     = aws_glue_job.this.default_arguments["--extra-py-files"] == "s3://ceap-glue-scripts-123456789012/batch/stage-code.zip"
    error_message = "stage code zip as --extra-py-files"
  }
  assert {
    condition = alltrue([
      aws_glue_job.this.default_arguments["--enable-continuous-cloudwatch-log"] == "true",
      aws_glue_job.this.default_arguments["--job-language"] == "python",
      aws_glue_job.this.default_arguments["--custom-logGroup-prefix"] == "/aws-glue/jobs/ceap-workflow-batch-heavy-etl",
    ])
    error_message = "continuous logging into the job's own log groups"
  }
  assert {
    condition     = aws_s3_object.script[0].source_hash == var.script_sha256 && aws_s3_object.code[0].source_hash == var.code_zip_sha256
    error_message = "uploads use source_hash (etag breaks under SSE-KMS)"
  }
  assert {
    condition     = aws_s3_object.script[0].kms_key_id == var.kms_key_arn && aws_s3_object.code[0].server_side_encryption == "aws:kms"
    error_message = "uploaded objects encrypted with the workflow key"
  }
  assert {
    condition = alltrue([
      aws_glue_security_configuration.this.encryption_configuration[0].s3_encryption[0].s3_encryption_mode == "SSE-KMS",
      aws_glue_security_configuration.this.encryption_configuration[0].s3_encryption[0].kms_key_arn == var.kms_key_arn,
      aws_glue_security_configuration.this.encryption_configuration[0].job_bookmarks_encryption[0].job_bookmarks_encryption_mode == "CSE-KMS",
      aws_glue_security_configuration.this.encryption_configuration[0].job_bookmarks_encryption[0].kms_key_arn == var.kms_key_arn,
    ])
    error_message = "S3 and bookmark encryption with the workflow key"
  }
  assert {
    condition     = aws_glue_security_configuration.this.encryption_configuration[0].cloudwatch_encryption[0].cloudwatch_encryption_mode == "DISABLED"
    error_message = "CloudWatch encryption is left to the job's own log groups: with it on, Glue would log to /aws-glue/jobs-{role}-{configuration}/... (JobRun.LogGroupName) and associate the key itself"
  }
  assert {
    condition     = aws_glue_job.this.default_arguments["--io_mode"] == "boto3"
    error_message = "all S3 I/O through boto3, never Spark's s3:// filesystem (EMRFS reads prefix keys and writes *_$folder$ markers outside the grants)"
  }
  assert {
    condition     = toset([for g in aws_cloudwatch_log_group.this : g.name]) == toset(["/aws-glue/jobs/ceap-workflow-batch-heavy-etl/error", "/aws-glue/jobs/ceap-workflow-batch-heavy-etl/output"])
    error_message = "the job's log groups exist with retention"
  }
  assert {
    condition     = alltrue([for g in aws_cloudwatch_log_group.this : g.retention_in_days == 14 && g.kms_key_id == var.kms_key_arn])
    error_message = "14-day retention, encrypted"
  }
}

run "policy" {
  command = plan

  assert {
    condition     = { for s in output.policy.Statement : s.Sid => s.Resource }["ReadJobCode"] == ["arn:aws:s3:::ceap-glue-scripts-123456789012/batch/heavy_etl.py", "arn:aws:s3:::ceap-glue-scripts-123456789012/batch/stage-code.zip"]
    error_message = "reads only its own two script objects"
  }
  assert {
    condition     = { for s in output.policy.Statement : s.Sid => s.Resource }["WriteOwnStageData"] == "arn:aws:s3:::ceap-workflow-batch-123456789012/executions/*/HeavyETL/*"
    error_message = "writes only under executions/*/HeavyETL/"
  }
  assert {
    condition     = { for s in output.policy.Statement : s.Sid => s.Resource }["ReadHistory"] == "arn:aws:s3:::ceap-workflow-batch-123456789012/history/*"
    error_message = "reads the default history location"
  }
  assert {
    condition     = { for s in output.policy.Statement : s.Sid => s }["ListHistory"].Condition.StringLike["s3:prefix"] == ["history/*"]
    error_message = "lists only the history prefix"
  }
  assert {
    condition     = { for s in output.policy.Statement : s.Sid => s.Action }["WriteOwnLogs"] == ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    error_message = "writes its logs; no logs:AssociateKmsKey (the groups are created encrypted)"
  }
  assert {
    condition = { for s in output.policy.Statement : s.Sid => s.Resource }["WriteOwnLogs"] == [
      "arn:aws:logs:us-east-1:123456789012:log-group:/aws-glue/jobs/ceap-workflow-batch-heavy-etl/error",
      "arn:aws:logs:us-east-1:123456789012:log-group:/aws-glue/jobs/ceap-workflow-batch-heavy-etl/output",
      "arn:aws:logs:us-east-1:123456789012:log-group:/aws-glue/jobs/ceap-workflow-batch-heavy-etl/error:*",
      "arn:aws:logs:us-east-1:123456789012:log-group:/aws-glue/jobs/ceap-workflow-batch-heavy-etl/output:*",
    ]
    error_message = "logs only in the two groups Glue 5.0 writes with --custom-logGroup-prefix (and that the module creates)"
  }
  assert {
    condition     = [for s in output.policy.Statement : s.Sid if s.Resource == "*"] == ["PublishJobMetrics"]
    error_message = "'*' resource only for PutMetricData, which has no resource type"
  }
  assert {
    condition     = { for s in output.policy.Statement : s.Sid => s }["PublishJobMetrics"].Condition.StringEquals["cloudwatch:namespace"] == "Glue"
    error_message = "metrics only in the Glue namespace"
  }
  assert {
    condition     = alltrue(flatten([for s in output.policy.Statement : [for a in s.Action : a != "*" && !endswith(a, ":*")]]))
    error_message = "no wildcard actions"
  }
  assert {
    condition     = aws_iam_role_policy.this.policy == jsonencode(output.policy)
    error_message = "the role's inline policy is exactly the reviewed document"
  }
  assert {
    condition     = jsondecode(aws_iam_role.this.assume_role_policy).Statement[0].Principal.Service == "glue.amazonaws.com"
    error_message = "only Glue assumes the role"
  }
}

run "external_history" {
  command = plan

  variables {
    history_uri = "s3://customer-history-archive/orders/v2/"
  }

  assert {
    condition     = aws_glue_job.this.default_arguments["--history_uri"] == "s3://customer-history-archive/orders/v2/"
    error_message = "history_uri reaches the job"
  }
  assert {
    condition     = { for s in output.policy.Statement : s.Sid => s.Resource }["ReadHistory"] == "arn:aws:s3:::customer-history-archive/orders/v2/*"
    error_message = "reads exactly the external history prefix"
  }
  assert {
    condition     = { for s in output.policy.Statement : s.Sid => s.Resource }["ListHistory"] == "arn:aws:s3:::customer-history-archive"
    error_message = "lists the external history bucket"
  }
}

run "tuning_arguments" {
  command = plan

  variables {
    job_arguments = { "--target_partition_mb" = "256", "--history_uri" = "s3://elsewhere/", "--io_mode" = "spark" }
  }

  assert {
    condition     = aws_glue_job.this.default_arguments["--target_partition_mb"] == "256"
    error_message = "tuning knobs reach the job"
  }
  assert {
    condition     = aws_glue_job.this.default_arguments["--history_uri"] == "s3://ceap-workflow-batch-123456789012/history/"
    error_message = "module arguments win over extra arguments"
  }
  assert {
    condition     = aws_glue_job.this.default_arguments["--io_mode"] == "boto3"
    error_message = "the I/O mode the role's grants are written for cannot be overridden"
  }
}

run "rejects_glue_4" {
  command = plan

  variables {
    glue_version = "4.0"
  }

  expect_failures = [var.glue_version]
}

run "rejects_bad_script_hash" {
  command = plan

  variables {
    script_sha256 = "not-a-hash"
  }

  expect_failures = [var.script_sha256]
}

run "published_objects_are_read_in_place" {
  command = plan

  variables {
    script_path   = null
    script_s3     = { bucket = "acme-ceap-artifacts", key = "ceap/glue/heavy_etl/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.py" }
    code_zip_path = null
    code_zip_s3   = { bucket = "acme-ceap-artifacts", key = "ceap/stage-code/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.zip" }
  }

  assert {
    condition     = length(aws_s3_object.script) == 0 && length(aws_s3_object.code) == 0
    error_message = "nothing is uploaded in the published form"
  }
  assert {
    condition     = aws_glue_job.this.command[0].script_location == "s3://acme-ceap-artifacts/ceap/glue/heavy_etl/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.py"
    error_message = "the job runs the published script"
  }
  assert {
    condition     = aws_glue_job.this.default_arguments["--extra-py-files"] == "s3://acme-ceap-artifacts/ceap/stage-code/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.zip"
    error_message = "the published stage code zip is --extra-py-files"
  }
  assert {
    condition = { for s in output.policy.Statement : s.Sid => s.Resource }["ReadJobCode"] == [
      "arn:aws:s3:::acme-ceap-artifacts/ceap/glue/heavy_etl/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.py",
      "arn:aws:s3:::acme-ceap-artifacts/ceap/stage-code/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.zip",
    ]
    error_message = "the role reads exactly the two published objects"
  }
}

run "rejects_both_script_forms" {
  command = plan

  variables {
    script_s3 = { bucket = "acme-ceap-artifacts", key = "heavy_etl.py" }
  }

  expect_failures = [var.script_path]
}

run "rejects_no_code_form" {
  command = plan

  variables {
    code_zip_path = null
  }

  expect_failures = [var.code_zip_path]
}
