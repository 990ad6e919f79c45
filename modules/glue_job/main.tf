# The HeavyETL stage as a Glue 5.0 job. Step Functions runs it with
# glue:startJobRun.sync and retries it, so the job itself never retries.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition

  # HeavyETL keeps its names; a custom Glue stage (modules/workflow custom_stages) is
  # ceap-workflow-{name}-{lower(stage)} with its objects under {name}/{lower(stage)}/.
  is_heavy_etl = var.stage == "HeavyETL"
  job_name     = local.is_heavy_etl ? "ceap-workflow-${var.workflow_name}-heavy-etl" : "ceap-workflow-${var.workflow_name}-${lower(var.stage)}"
  bucket_arn   = "arn:${local.partition}:s3:::${var.bucket_name}"
  object_root  = local.is_heavy_etl ? "${var.workflow_name}/" : "${var.workflow_name}/${lower(var.stage)}/"
  script_name  = local.is_heavy_etl ? "heavy_etl.py" : "${lower(var.stage)}.py"

  # The script and the stage code: uploaded here (local files) or published objects
  # read in place (`ceap-tf publish`); the job role may read exactly these two objects.
  script_object = var.script_s3 != null ? var.script_s3 : { bucket = var.scripts_bucket_name, key = one(aws_s3_object.script[*].key) }
  code_object   = var.code_zip_s3 != null ? var.code_zip_s3 : { bucket = var.scripts_bucket_name, key = one(aws_s3_object.code[*].key) }
  job_code_arns = [for o in [local.script_object, local.code_object] : "arn:${local.partition}:s3:::${o.bucket}/${o.key}"]

  history_uri    = coalesce(var.history_uri, "s3://${var.bucket_name}/history/")
  history_parts  = regex("^s3://([^/]+)/?(.*)$", local.history_uri)
  history_bucket = "arn:${local.partition}:s3:::${local.history_parts[0]}"
  history_prefix = local.history_parts[1]

  # Glue 5.0 writes to {prefix}/error (driver, Spark, GlueLogger) and {prefix}/output
  # (stdout/stderr) when the job sets --custom-logGroup-prefix
  # (https://docs.aws.amazon.com/glue/latest/dg/monitor-continuous-logging.html). Both
  # groups are created here, encrypted with the workflow key by CloudWatch Logs itself;
  # the security configuration leaves CloudWatch encryption off (see README, Logs).
  log_group_prefix = "/aws-glue/jobs/${local.job_name}"
  log_group_names  = ["${local.log_group_prefix}/error", "${local.log_group_prefix}/output"]

  default_arguments = merge(
    { "--target_partition_mb" = "128" },
    var.job_arguments,
    var.history_access ? { "--history_uri" = local.history_uri } : {},
    {
      "--job-language"                     = "python"
      "--extra-py-files"                   = "s3://${local.code_object.bucket}/${local.code_object.key}"
      "--enable-continuous-cloudwatch-log" = "true"
      "--custom-logGroup-prefix"           = local.log_group_prefix
      "--enable-metrics"                   = "true"
      "--enable-observability-metrics"     = "true"
      "--job-bookmark-option"              = "job-bookmark-disable" # every run reads one execution's prefix
      # All S3 I/O through boto3 (the path the local cloud runs and the role's grants
      # are written for), never through Spark's s3:// filesystem (EMRFS), which also
      # reads prefix keys and writes *_$folder$ markers outside them (see README, S3).
      "--io_mode" = "boto3"
    },
  )
}

resource "aws_s3_object" "script" {
  count = var.script_s3 == null ? 1 : 0

  bucket                 = var.scripts_bucket_name
  key                    = "${local.object_root}${local.script_name}"
  source                 = var.script_content == null ? var.script_path : null
  content                = var.script_content
  source_hash            = var.script_sha256
  content_type           = "text/x-python"
  server_side_encryption = "aws:kms"
  kms_key_id             = var.kms_key_arn
}

resource "aws_s3_object" "code" {
  count = var.code_zip_s3 == null ? 1 : 0

  bucket                 = var.scripts_bucket_name
  key                    = "${local.object_root}stage-code.zip"
  source                 = var.code_zip_path
  source_hash            = var.code_zip_sha256
  content_type           = "application/zip"
  server_side_encryption = "aws:kms"
  kms_key_id             = var.kms_key_arn
}

# Deployments made before the published form existed keep their uploaded objects.
moved {
  from = aws_s3_object.script
  to   = aws_s3_object.script[0]
}

moved {
  from = aws_s3_object.code
  to   = aws_s3_object.code[0]
}

resource "aws_cloudwatch_log_group" "this" {
  # checkov:skip=CKV_AWS_338: Retention is a variable (log_retention_days, SPEC default 14 days): these logs are per-run diagnostics, not an audit trail (CloudTrail is); teams that must keep them longer set the variable.
  for_each = toset(local.log_group_names)

  name              = each.value
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_glue_security_configuration" "this" {
  # checkov:skip=CKV_AWS_99: S3 (SSE-KMS) and bookmark (CSE-KMS) encryption use the workflow key. CloudWatch encryption is off here on purpose: the job's two log groups are created encrypted with the same key (aws_cloudwatch_log_group.this, kms_key_id), whereas with it on Glue names its own log groups after the role and this configuration (JobRun.LogGroupName) and must associate the key itself (logs:AssociateKmsKey). Logs stay encrypted either way.
  name = local.job_name

  encryption_configuration {
    # Log encryption belongs to the log groups above (kms_key_id), see the skip reason.
    cloudwatch_encryption {
      cloudwatch_encryption_mode = "DISABLED"
    }

    job_bookmarks_encryption {
      job_bookmarks_encryption_mode = "CSE-KMS"
      kms_key_arn                   = var.kms_key_arn
    }

    s3_encryption {
      s3_encryption_mode = "SSE-KMS"
      kms_key_arn        = var.kms_key_arn
    }
  }
}

resource "aws_glue_job" "this" {
  name                   = local.job_name
  description            = local.is_heavy_etl ? "CEAP ${var.workflow_name} workflow: HeavyETL (customer-history enrichment)" : "CEAP ${var.workflow_name} workflow: ${var.stage} (custom Glue stage)"
  role_arn               = aws_iam_role.this.arn
  glue_version           = var.glue_version
  worker_type            = var.worker_type
  number_of_workers      = var.number_of_workers
  timeout                = var.timeout_minutes
  max_retries            = 0 # the state machine owns retries (modules/workflow, states.tf)
  security_configuration = aws_glue_security_configuration.this.name

  command {
    name            = "glueetl"
    python_version  = "3"
    script_location = "s3://${local.script_object.bucket}/${local.script_object.key}"
  }

  default_arguments = local.default_arguments

  execution_property {
    max_concurrent_runs = var.max_concurrent_runs
  }

  depends_on = [
    aws_cloudwatch_log_group.this,
    aws_iam_role_policy.this,
  ]
}
