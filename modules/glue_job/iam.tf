# The job role: the workflow bucket prefixes HeavyETL needs, the history dataset,
# exactly its two code objects (the script and the stage code zip, uploaded here or
# published), its own log groups and the workflow key.

locals {
  log_group_arns = [
    for n in local.log_group_names : "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${n}"
  ]

  history_statements = [
    {
      Sid      = "ReadHistory"
      Effect   = "Allow"
      Action   = ["s3:GetObject"]
      Resource = "${local.history_bucket}/${local.history_prefix}*"
    },
    {
      Sid       = "ListHistory"
      Effect    = "Allow"
      Action    = ["s3:ListBucket"]
      Resource  = local.history_bucket
      Condition = { StringLike = { "s3:prefix" = ["${local.history_prefix}*"] } }
    },
  ]

  policy = {
    Version = "2012-10-17"
    Statement = concat([
      {
        Sid      = "ReadJobCode"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = local.job_code_arns
      },
      {
        # The predecessor's manifest and parts (and this stage's own, on retry).
        Sid      = "ReadExecutionData"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = "${local.bucket_arn}/executions/*"
      },
      {
        # Parts, rejects and the manifest; a retried run first deletes what its earlier
        # attempt left under the prefix (manifest first).
        Sid      = "WriteOwnStageData"
        Effect   = "Allow"
        Action   = ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
        Resource = "${local.bucket_arn}/executions/*/${var.stage}/*"
      },
      {
        Sid       = "ListExecutionData"
        Effect    = "Allow"
        Action    = ["s3:ListBucket"]
        Resource  = local.bucket_arn
        Condition = { StringLike = { "s3:prefix" = ["executions/*"] } }
      },
      ],
      [for statement in local.history_statements : statement if var.history_access],
      [{
        # Glue creates its run's streams (and a group if missing: the groups exist, made
        # here with retention and the workflow key). No logs:AssociateKmsKey: the security
        # configuration leaves CloudWatch encryption to the groups (see README, Logs).
        Sid      = "WriteOwnLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = concat(local.log_group_arns, [for a in local.log_group_arns : "${a}:*"])
        },
        {
          # PutMetricData has no resource type: AWS supports only "*"; the namespace condition scopes it to Glue's job metrics.
          Sid       = "PublishJobMetrics"
          Effect    = "Allow"
          Action    = ["cloudwatch:PutMetricData"]
          Resource  = "*"
          Condition = { StringEquals = { "cloudwatch:namespace" = "Glue" } }
        },
        {
          Sid      = "UseWorkflowKey"
          Effect   = "Allow"
          Action   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
          Resource = var.kms_key_arn
        },
    ])
  }
}

resource "aws_iam_role" "this" {
  name        = "${local.job_name}-role"
  description = "Role of the Glue job ${local.job_name}"

  # Only Glue may assume the role; a job role can be passed only within this account.
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect    = "Allow"
        Principal = { Service = "glue.amazonaws.com" }
        Action    = "sts:AssumeRole"
      },
    ]
  })
}

resource "aws_iam_role_policy" "this" {
  name   = local.is_heavy_etl ? "heavy-etl" : lower(var.stage)
  role   = aws_iam_role.this.id
  policy = jsonencode(local.policy)
}
