variable "workflow_name" {
  description = "Workflow name (enters the function name CeapWorkflow-{name}-{Stage}Lambda)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,20}$", var.workflow_name))
    error_message = "workflow_name must match ^[a-z][a-z0-9]{1,20}$."
  }
}

variable "stage" {
  description = "Stage id: ETL, Filter, Score, Store or Reactive (HeavyETL runs on Glue, see modules/glue_job), or a custom stage's id (Custom + up to 12 letters/digits, with handler set; modules/workflow custom_stages)."
  type        = string

  validation {
    condition     = contains(["ETL", "Filter", "Score", "Store", "Reactive"], var.stage) || can(regex("^Custom[A-Z][A-Za-z0-9]{0,11}$", var.stage))
    error_message = "stage must be one of ETL, Filter, Score, Store, Reactive, or a custom stage id (Custom + up to 12 letters/digits)."
  }
}

variable "code_s3_bucket" {
  description = "Bucket holding the stage code zip (one zip serves all five handlers); the workflow module uploads it to the workflow bucket."
  type        = string
}

variable "code_s3_key" {
  description = "Key of the stage code zip in code_s3_bucket."
  type        = string

  validation {
    condition     = endswith(var.code_s3_key, ".zip")
    error_message = "code_s3_key must name a .zip object."
  }
}

variable "code_zip_sha256" {
  description = "Base64-encoded SHA-256 of the code zip (the function's source_code_hash: a new value redeploys the code)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9+/]{43}=$", var.code_zip_sha256))
    error_message = "code_zip_sha256 must be a base64-encoded SHA-256 (44 characters ending in '=')."
  }
}

variable "runtime" {
  description = "Lambda Python runtime, e.g. python3.12."
  type        = string

  validation {
    condition     = can(regex("^python3\\.1[0-9]$", var.runtime))
    error_message = "runtime must be a Lambda Python 3 runtime such as python3.12."
  }
}

variable "layer_arns" {
  description = "Lambda layer version ARNs (the workflow's dependency layer)."
  type        = list(string)
  default     = []
}

variable "memory_size" {
  description = "Memory in MB; null takes the stage default (ETL 1024, Filter 512, Score 1024, Store 1024, Reactive 512)."
  type        = number
  default     = null

  validation {
    condition     = var.memory_size == null || (coalesce(var.memory_size, 128) >= 128 && coalesce(var.memory_size, 128) <= 10240)
    error_message = "memory_size must be between 128 and 10240 MB."
  }
}

variable "timeout" {
  description = "Timeout in seconds; null takes the stage default (ETL 60, Filter 30, Score 60, Store 60, Reactive 30: 240 s in all, inside the 5-minute EXPRESS bound)."
  type        = number
  default     = null

  validation {
    condition     = var.timeout == null || (coalesce(var.timeout, 1) >= 1 && coalesce(var.timeout, 1) <= 900)
    error_message = "timeout must be between 1 and 900 seconds."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions of the function; null (the default) reserves none and the stage draws on the account's unreserved pool. Opt in only where the account has room: Lambda refuses a reservation that would leave less than 100 unreserved concurrency, so on an account whose concurrency quota is 10 or 50 (new accounts) any reservation fails the apply."
  type        = number
  default     = null

  validation {
    condition     = var.reserved_concurrency == null || coalesce(var.reserved_concurrency, 1) >= 1
    error_message = "reserved_concurrency must be null (none reserved) or at least 1 (0 would throttle every invocation)."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's log group."
  type        = number
  default     = 14

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "kms_key_arn" {
  description = "Workflow KMS key: encrypts the log group and environment variables; the role may use it for the bucket, table and queue data."
  type        = string
}

variable "bucket_arn" {
  description = "Workflow bucket ARN. The role reads executions/* and writes only executions/*/{Stage}/*."
  type        = string
}

variable "first_stage" {
  description = "The first stage of the workflow: it keeps the execution input once, at executions/{id}/input.json (its role may write that object), and reads no predecessor's data (its role may not read or list executions/)."
  type        = bool
  default     = false
}

variable "extra_source_bucket_arns" {
  description = "ETL only: further buckets the ETL stage may read `source` files from (read-only, whole bucket)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.extra_source_bucket_arns : can(regex("^arn:[a-z-]+:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", a))])
    error_message = "extra_source_bucket_arns must be S3 bucket ARNs (arn:aws:s3:::bucket)."
  }
}

variable "table_arn" {
  description = "Store only: candidate table ARN."
  type        = string
  default     = null
}

variable "table_name" {
  description = "Store only: candidate table name (CEAP_CANDIDATE_TABLE)."
  type        = string
  default     = null

  validation {
    condition     = var.stage != "Store" || var.table_name != null
    error_message = "The Store stage needs table_name (and table_arn)."
  }
}

variable "event_bus_arn" {
  description = "Reactive only: EventBridge bus ARN."
  type        = string
  default     = null
}

variable "event_bus_name" {
  description = "Reactive only: EventBridge bus name (CEAP_EVENT_BUS)."
  type        = string
  default     = null

  validation {
    condition     = var.stage != "Reactive" || var.event_bus_name != null
    error_message = "The Reactive stage needs event_bus_name (and event_bus_arn)."
  }
}

variable "environment" {
  description = "Extra stage settings, e.g. {CEAP_FILTER_MIN_ORDER_VALUE = \"10\"}. CEAP_WORKFLOW, CEAP_STAGE, CEAP_CANDIDATE_TABLE and CEAP_EVENT_BUS are set by the module and cannot be overridden."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.environment) : can(regex("^[A-Za-z_][A-Za-z0-9_]*$", k))])
    error_message = "environment keys must be valid variable names (letters, digits, '_')."
  }
}

variable "handler" {
  description = "Handler of a custom stage (module.function in the stage code zip, e.g. ceap_stages.custom.region_tag.handler); null for a built-in stage (ceap_stages.stages.{lower(stage)}.handler)."
  type        = string
  default     = null

  validation {
    condition     = var.handler == null || can(regex("^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)+$", var.handler))
    error_message = "handler must be a dotted module.function path."
  }
}
