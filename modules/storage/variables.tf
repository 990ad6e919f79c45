variable "name" {
  description = "Workflow name; enters every resource name (ceap-workflow-{name}-...)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,20}$", var.name))
    error_message = "name must match ^[a-z][a-z0-9]{1,20}$ (lowercase letters and digits, starting with a letter)."
  }
}

variable "executions_expiration_days" {
  description = "Days after which objects under executions/ (per-run stage data) expire."
  type        = number
  default     = 7

  validation {
    condition     = var.executions_expiration_days >= 1
    error_message = "executions_expiration_days must be at least 1."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which noncurrent object versions in the workflow bucket are deleted."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "force_destroy" {
  description = "Let terraform destroy delete the workflow bucket with its objects."
  type        = bool
  default     = false
}

variable "queue_visibility_timeout_seconds" {
  description = "Visibility timeout of the workflow queue. It must exceed the longest time the pipe holds a message: an EXPRESS execution started with REQUEST_RESPONSE runs for up to 5 minutes, so the default is 6 minutes; otherwise a message becomes visible again mid-run and starts a duplicate execution."
  type        = number
  default     = 360

  validation {
    condition     = var.queue_visibility_timeout_seconds >= 0 && var.queue_visibility_timeout_seconds <= 43200
    error_message = "queue_visibility_timeout_seconds must be between 0 and 43200."
  }
}

variable "queue_message_retention_seconds" {
  description = "How long the workflow queue keeps a message that was not processed."
  type        = number
  default     = 345600 # 4 days

  validation {
    condition     = var.queue_message_retention_seconds >= 60 && var.queue_message_retention_seconds <= 1209600
    error_message = "queue_message_retention_seconds must be between 60 and 1209600."
  }
}

variable "dlq_message_retention_seconds" {
  description = "How long the dead-letter queue keeps a failed message (the maximum, 14 days, leaves time to inspect and redrive)."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dlq_message_retention_seconds >= 60 && var.dlq_message_retention_seconds <= 1209600
    error_message = "dlq_message_retention_seconds must be between 60 and 1209600."
  }
}

variable "max_receive_count" {
  description = "Receives after which a message moves to the dead-letter queue."
  type        = number
  default     = 3

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000
    error_message = "max_receive_count must be between 1 and 1000."
  }
}

variable "ttl_attribute_name" {
  description = "Candidate-table attribute holding the expiry time (epoch seconds) that DynamoDB TTL deletes on. Must match what the Store stage writes."
  type        = string
  default     = "expiresAt"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,255}$", var.ttl_attribute_name))
    error_message = "ttl_attribute_name must be 1-255 characters of letters, digits, '_', '.' or '-'."
  }
}

variable "table_deletion_protection" {
  description = "Turn on DynamoDB deletion protection for the candidate table (then terraform destroy fails until it is turned off)."
  type        = bool
  default     = false
}

variable "kms_deletion_window_days" {
  description = "Waiting period before the workflow KMS key is deleted after destroy."
  type        = number
  default     = 7

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be between 7 and 30."
  }
}

variable "kms_alarm_source_arns" {
  description = "ARNs (wildcards allowed) of the CloudWatch alarms that publish to a topic encrypted with the workflow key; the key policy lets cloudwatch.amazonaws.com use the key only for them (aws:SourceArn, aws:SourceAccount). Empty: no alarm may."
  type        = list(string)
  default     = []
}

variable "kms_log_group_names" {
  description = "CloudWatch log group names (wildcards allowed) that may encrypt with the workflow key. The workflow module passes its Lambda, Step Functions and Glue log groups."
  type        = list(string)
  default     = []
}

variable "kms_eventbridge_topic_arns" {
  description = "ARNs of SNS topics encrypted with the workflow key that EventBridge rules publish to (the workflow's alarm topic for its Glue-failure rule). The key policy lets events.amazonaws.com use the key only for these topics (encryption context aws:sns:topicArn); which rule may publish is the topic policy's business. Empty: EventBridge may not use the key."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.kms_eventbridge_topic_arns : can(regex("^arn:[a-z-]+:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", a))])
    error_message = "kms_eventbridge_topic_arns must be SNS topic ARNs (arn:aws:sns:region:account:name)."
  }
}

variable "kms_budget_source_arns" {
  description = "ARNs of AWS Budgets budgets that notify the workflow's encrypted alarm topic. The key policy lets budgets.amazonaws.com use the key for exactly these budgets (aws:SourceArn, aws:SourceAccount; https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-sns-policy.html). Empty: Budgets may not use the key."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.kms_budget_source_arns : can(regex("^arn:[a-z-]+:budgets::[0-9]{12}:budget/[A-Za-z0-9_.:-]{1,100}$", a))])
    error_message = "kms_budget_source_arns must be budget ARNs (arn:aws:budgets::account:budget/name)."
  }
}
