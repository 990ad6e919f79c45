# Roles of the state machine and the pipe, each with one inline policy scoped to
# this workflow's exact resources.

locals {
  function_arn_list = [for s in local.stage_order : local.function_arns[s] if !contains(local.glue_stage_ids, s)]
  glue_job_arn      = "arn:${local.partition}:glue:${local.region}:${local.account_id}:job/${local.glue_job_name}"

  sfn_statements = concat(
    [
      {
        # Exactly this workflow's five functions (and their versions/aliases).
        Sid      = "InvokeStageFunctions"
        Effect   = "Allow"
        Action   = ["lambda:InvokeFunction"]
        Resource = concat(local.function_arn_list, [for a in local.function_arn_list : "${a}:*"])
      },
    ],
    local.fanout_sfn_statements,
    local.is_standard ? [
      {
        # Exactly this workflow's Glue job; .sync polls GetJobRun, abort stops the run.
        Sid      = "RunHeavyEtlJob"
        Effect   = "Allow"
        Action   = ["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"]
        Resource = local.glue_job_arn
      },
    ] : [],
    [
      # Exactly the jobs of this workflow's custom Glue stages (custom_stages.tf), if any.
      for arns in [[for id in keys(local.custom_glue_stages) : "arn:${local.partition}:glue:${local.region}:${local.account_id}:job/${local.glue_job_names[id]}"]] : {
        Sid      = "RunCustomGlueStageJobs"
        Effect   = "Allow"
        Action   = ["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"]
        Resource = arns
      } if length(arns) > 0
    ],
    [
      {
        # CloudWatch Logs vended delivery: these actions have no resource-level
        # permissions, AWS requires "*" (Step Functions logging docs).
        Sid    = "DeliverExecutionLogs"
        Effect = "Allow"
        Action = [
          "logs:CreateLogDelivery",
          "logs:GetLogDelivery",
          "logs:UpdateLogDelivery",
          "logs:DeleteLogDelivery",
          "logs:ListLogDeliveries",
          "logs:PutResourcePolicy",
          "logs:DescribeResourcePolicies",
          "logs:DescribeLogGroups",
        ]
        Resource = "*"
      },
      {
        # X-Ray segments and sampling rules are not resources: AWS supports only "*".
        Sid      = "WriteTraces"
        Effect   = "Allow"
        Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
        Resource = "*"
      },
    ],
  )

  sfn_policy = {
    Version   = "2012-10-17"
    Statement = local.sfn_statements
  }

  pipe_name = "ceap-workflow-${var.name}-pipe"
  pipe_arn  = "arn:${local.partition}:pipes:${local.region}:${local.account_id}:pipe/${local.pipe_name}"

  pipe_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ConsumeWorkflowQueue"
        Effect   = "Allow"
        Action   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
        Resource = module.storage.queue_arn
      },
      {
        # EXPRESS runs synchronously (REQUEST_RESPONSE), STANDARD asynchronously (FIRE_AND_FORGET).
        Sid      = "StartWorkflow"
        Effect   = "Allow"
        Action   = [local.is_standard ? "states:StartExecution" : "states:StartSyncExecution"]
        Resource = local.state_machine_arn
      },
      {
        # Messages are encrypted with the workflow key.
        Sid      = "DecryptQueueMessages"
        Effect   = "Allow"
        Action   = ["kms:Decrypt"]
        Resource = module.storage.kms_key_arn
      },
    ]
  }
}

resource "aws_iam_role" "sfn" {
  name        = "${local.state_machine_name}-role"
  description = "Role of the state machine ${local.state_machine_name}"

  # Confused-deputy guard: only this account's state machine may assume the role.
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect    = "Allow"
        Principal = { Service = "states.amazonaws.com" }
        Action    = "sts:AssumeRole"
        Condition = {
          StringEquals = { "aws:SourceAccount" = local.account_id }
          ArnLike      = { "aws:SourceArn" = [local.state_machine_arn, "${local.state_machine_arn}:*"] }
        }
      },
    ]
  })
}

resource "aws_iam_role_policy" "sfn" {
  name   = "state-machine"
  role   = aws_iam_role.sfn.id
  policy = jsonencode(local.sfn_policy)
}

resource "aws_iam_role" "pipe" {
  name        = "${local.pipe_name}-role"
  description = "Role of the pipe ${local.pipe_name}"

  # Confused-deputy guard: only this account's pipe may assume the role.
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect    = "Allow"
        Principal = { Service = "pipes.amazonaws.com" }
        Action    = "sts:AssumeRole"
        Condition = {
          StringEquals = {
            "aws:SourceAccount" = local.account_id
            "aws:SourceArn"     = local.pipe_arn
          }
        }
      },
    ]
  })
}

resource "aws_iam_role_policy" "pipe" {
  name   = "pipe"
  role   = aws_iam_role.pipe.id
  policy = jsonencode(local.pipe_policy)
}
