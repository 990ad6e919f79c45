# Execution role of one stage, with one inline policy scoped to exact ARNs.
# No managed-policy attachments: AWSLambdaBasicExecutionRole and friends grant
# logs on every group in the account and X-Ray/S3 far beyond one stage.

locals {
  objects = "${var.bucket_arn}/executions/*"

  common_statements = [
    {
      Sid      = "WriteOwnLogs"
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = "${local.log_group_arn}:*"
    },
    {
      # X-Ray trace segments are not resources: AWS supports only "*" here.
      Sid      = "WriteTraces"
      Effect   = "Allow"
      Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      Resource = "*"
    },
    {
      # Write only under this stage's own prefix: executions/{executionId}/{Stage}/.
      Sid      = "WriteOwnStageData"
      Effect   = "Allow"
      Action   = ["s3:PutObject", "s3:AbortMultipartUpload"]
      Resource = "${var.bucket_arn}/executions/*/${var.stage}/*"
    },
    {
      # The workflow key encrypts the bucket, table and environment variables.
      Sid      = "UseWorkflowKey"
      Effect   = "Allow"
      Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
      Resource = var.kms_key_arn
    },
  ]

  stage_statements = {
    ETL = concat(
      [
        {
          # `source` files: the conventional inputs/ prefix and any extra source buckets.
          Sid      = "ReadSourceFiles"
          Effect   = "Allow"
          Action   = ["s3:GetObject"]
          Resource = concat(["${var.bucket_arn}/inputs/*"], [for b in var.extra_source_bucket_arns : "${b}/*"])
        },
        {
          # A `source` ending in "/" reads every object under that prefix.
          Sid       = "ListInputs"
          Effect    = "Allow"
          Action    = ["s3:ListBucket"]
          Resource  = var.bucket_arn
          Condition = { StringLike = { "s3:prefix" = ["inputs/*"] } }
        },
      ],
      [
        for s in [
          {
            Sid      = "ListExtraSources"
            Effect   = "Allow"
            Action   = ["s3:ListBucket"]
            Resource = var.extra_source_bucket_arns
          },
        ] : s if length(var.extra_source_bucket_arns) > 0
      ],
    )
    Filter = []
    Score = [
      {
        # Optional model override (CEAP_MODEL_KEY) under models/.
        Sid      = "ReadModels"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = "${var.bucket_arn}/models/*"
      },
    ]
    Store = [
      {
        # Read back each batch, create with BatchWriteItem, update with a conditional
        # PutItem (optimistic locking), re-read on conflict. No deletes, scans or queries.
        Sid      = "WriteCandidates"
        Effect   = "Allow"
        Action   = ["dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:PutItem", "dynamodb:GetItem"]
        Resource = var.table_arn
      },
    ]
    Reactive = [
      {
        Sid      = "PublishEngagementEvents"
        Effect   = "Allow"
        Action   = ["events:PutEvents"]
        Resource = var.event_bus_arn
      },
    ]
  }

  # The first stage keeps the execution input once (ceap_stages.contract.input_key) and
  # reads initialData; every other stage reads its predecessor's manifest and parts.
  keep_input_statements = var.first_stage ? [
    {
      Sid      = "KeepExecutionInput"
      Effect   = "Allow"
      Action   = ["s3:PutObject"]
      Resource = "${var.bucket_arn}/executions/*/input.json"
    },
  ] : []
  read_predecessor_statements = [
    for s in [
      {
        # Read any stage's data of any execution (the predecessor's manifest and parts).
        Sid      = "ReadExecutionData"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = local.objects
      },
      {
        # Listing lets a missing manifest read as 404 (clear error) instead of 403.
        Sid       = "ListExecutionData"
        Effect    = "Allow"
        Action    = ["s3:ListBucket"]
        Resource  = var.bucket_arn
        Condition = { StringLike = { "s3:prefix" = ["executions/*"] } }
      },
    ] : s if !var.first_stage
  ]

  policy = {
    Version = "2012-10-17"
    Statement = concat(
      local.common_statements,
      local.keep_input_statements,
      local.read_predecessor_statements,
      try(local.stage_statements[var.stage], []),
    )
  }
}

resource "aws_iam_role" "this" {
  name        = "${local.function_name}-role"
  description = "Execution role of ${local.function_name}"

  # Only Lambda may assume the role. No source conditions: a Lambda execution role
  # can be passed (iam:PassRole) only within this account, so there is no
  # cross-account confused deputy to guard against.
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect    = "Allow"
        Principal = { Service = "lambda.amazonaws.com" }
        Action    = "sts:AssumeRole"
      },
    ]
  })
}

resource "aws_iam_role_policy" "this" {
  name   = "stage-${lower(var.stage)}"
  role   = aws_iam_role.this.id
  policy = jsonencode(local.policy)
}
