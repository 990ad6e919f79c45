# One customer-managed key per workflow, rotated yearly. The key policy delegates
# to IAM in this account (roles get kms:* only through their own scoped policies)
# and lets the AWS services that encrypt on the workflow's behalf use it.

locals {
  kms_log_group_arns = [
    for n in var.kms_log_group_names : "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${n}"
  ]

  kms_statements = concat(
    [
      {
        # The standard root statement: without it no IAM policy could grant use of the key.
        Sid       = "EnableIamPoliciesInThisAccount"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*" # in a key policy "*" means this key
      },
    ],
    length(var.kms_alarm_source_arns) == 0 ? [] : [
      {
        # CloudWatch alarms of this workflow publish to its encrypted alarm topic. The
        # source conditions keep another account's or workflow's alarms from using the
        # key through the service (confused deputy; "Encrypting Amazon SNS topics for
        # CloudWatch alarms" in the CloudWatch user guide).
        Sid       = "AllowCloudWatchAlarmsToUseTheAlarmTopic"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = local.account_id }
          ArnLike      = { "aws:SourceArn" = var.kms_alarm_source_arns }
        }
      },
    ],
    length(var.kms_eventbridge_topic_arns) == 0 ? [] : [
      {
        # EventBridge rules publish to the workflow's encrypted alarm topic; SNS asks KMS
        # for a data key on the publisher's behalf, with the topic's ARN as encryption
        # context. So the key serves EventBridge for exactly these topics, and each
        # topic's policy names the one rule that may publish (aws:SourceArn).
        Sid       = "AllowEventBridgeToPublishToTheAlarmTopic"
        Effect    = "Allow"
        Principal = { Service = "events.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
        Condition = {
          StringEquals = { "kms:EncryptionContext:aws:sns:topicArn" = var.kms_eventbridge_topic_arns }
        }
      },
    ],
    length(var.kms_budget_source_arns) == 0 ? [] : [
      {
        # AWS Budgets publishes the workflow budget's notifications to the encrypted
        # alarm topic (https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-sns-policy.html).
        Sid       = "AllowBudgetsToPublishToTheAlarmTopic"
        Effect    = "Allow"
        Principal = { Service = "budgets.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = local.account_id }
          ArnLike      = { "aws:SourceArn" = var.kms_budget_source_arns }
        }
      },
    ],
    length(local.kms_log_group_arns) == 0 ? [] : [
      {
        # CloudWatch Logs encrypts the workflow's log groups, and only those. (No
        # kms:Describe*: DescribeKey carries no encryption context, so under this
        # condition it could never match.)
        Sid       = "AllowCloudWatchLogsForWorkflowLogGroups"
        Effect    = "Allow"
        Principal = { Service = "logs.${local.region}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*"]
        Resource  = "*"
        Condition = {
          ArnLike = { "kms:EncryptionContext:aws:logs:arn" = local.kms_log_group_arns }
        }
      },
    ],
  )

  kms_policy = {
    Version   = "2012-10-17"
    Statement = local.kms_statements
  }
}

resource "aws_kms_key" "this" {
  description             = "CEAP workflow ${var.name}: bucket, queues, table, logs and alarm topic"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = jsonencode(local.kms_policy)
}

resource "aws_kms_alias" "this" {
  name          = "alias/ceap-workflow-${var.name}"
  target_key_id = aws_kms_key.this.key_id
}
