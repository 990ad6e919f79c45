variable "workflow_name" {
  description = "Workflow name (the job is ceap-workflow-{name}-heavy-etl)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,20}$", var.workflow_name))
    error_message = "workflow_name must match ^[a-z][a-z0-9]{1,20}$."
  }
}

variable "scripts_bucket_name" {
  description = "Shared Glue script bucket (ceap-glue-scripts-{account_id}, from envs/shared). The script and the stage code zip are uploaded under {workflow name}/."
  type        = string
}

variable "script_path" {
  description = "Local path of the PySpark script (glue/heavy_etl.py), uploaded by this module to the scripts bucket; null when script_s3 names a published object."
  type        = string
  default     = null

  validation {
    condition     = var.script_content != null ? (var.script_path == null && var.script_s3 == null) : ((var.script_path == null) != (var.script_s3 == null))
    error_message = "Give the script as script_path (a local file), script_s3 (a published object) or script_content, exactly one."
  }
}

variable "script_s3" {
  description = "The published script object ({bucket, key}, from `ceap-tf publish`), read in place: nothing is uploaded and the job role may read exactly this object."
  type = object({
    bucket = string
    key    = string
  })
  default = null
}

variable "script_sha256" {
  description = "Hex SHA-256 of the script; a change re-uploads it (source_hash, not etag, which breaks under SSE-KMS)."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.script_sha256))
    error_message = "script_sha256 must be 64 lowercase hex characters."
  }
}

variable "code_zip_path" {
  description = "Local path of the stage code zip, uploaded by this module and passed to the job as --extra-py-files so ceap_stages.contract imports; null when code_zip_s3 names a published object."
  type        = string
  default     = null

  validation {
    condition     = (var.code_zip_path == null) != (var.code_zip_s3 == null)
    error_message = "Give the stage code as code_zip_path (a local file) or code_zip_s3 (a published object), exactly one."
  }
}

variable "code_zip_s3" {
  description = "The published stage code zip ({bucket, key}, from `ceap-tf publish`), used in place as --extra-py-files: nothing is uploaded and the job role may read exactly this object."
  type = object({
    bucket = string
    key    = string
  })
  default = null
}

variable "code_zip_sha256" {
  description = "Base64 SHA-256 of the stage code zip; a change re-uploads it."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9+/]{43}=$", var.code_zip_sha256))
    error_message = "code_zip_sha256 must be a base64-encoded SHA-256 (44 characters ending in '=')."
  }
}

variable "bucket_name" {
  description = "Workflow bucket name: the job reads executions/*, writes executions/*/HeavyETL/*."
  type        = string
}

variable "kms_key_arn" {
  description = "Workflow KMS key: the security configuration encrypts with it, uploaded objects use it, and the role may use it."
  type        = string
}

variable "history_uri" {
  description = "Customer-history dataset (s3://bucket/prefix/); null means s3://{workflow bucket}/history/. The role may read only under it."
  type        = string
  default     = null

  validation {
    condition     = var.history_uri == null || can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$", coalesce(var.history_uri, "s3://xxx")))
    error_message = "history_uri must be an s3://bucket/prefix/ URI."
  }
}

variable "glue_version" {
  description = "Glue version. SPEC pins 5.0 (Spark 3.5, Python 3.11), matching the pyspark pinned for local runs."
  type        = string
  default     = "5.0"

  validation {
    condition     = contains(["5.0"], var.glue_version)
    error_message = "glue_version must be 5.0 (the version local runs reproduce)."
  }
}

variable "worker_type" {
  description = "Glue worker type."
  type        = string
  default     = "G.1X"

  validation {
    condition     = contains(["G.1X", "G.2X", "G.4X", "G.8X"], var.worker_type)
    error_message = "worker_type must be one of G.1X, G.2X, G.4X, G.8X."
  }
}

variable "number_of_workers" {
  description = "Number of workers (2 is the Glue minimum for G workers)."
  type        = number
  default     = 2

  validation {
    condition     = var.number_of_workers >= 2
    error_message = "number_of_workers must be at least 2."
  }
}

variable "timeout_minutes" {
  description = "Job run timeout in minutes."
  type        = number
  default     = 120

  validation {
    condition     = var.timeout_minutes >= 1 && var.timeout_minutes <= 2880
    error_message = "timeout_minutes must be between 1 and 2880."
  }
}

variable "max_concurrent_runs" {
  description = "Concurrent runs allowed; STANDARD executions may overlap, each runs the job once."
  type        = number
  default     = 3

  validation {
    condition     = var.max_concurrent_runs >= 1
    error_message = "max_concurrent_runs must be at least 1."
  }
}

variable "job_arguments" {
  description = "Extra default arguments (tuning knobs such as --target_partition_mb). The module's own arguments win on conflicts."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.job_arguments) : startswith(k, "--")])
    error_message = "job_arguments keys must start with '--'."
  }
}

variable "log_retention_days" {
  description = "Retention of the job's log groups."
  type        = number
  default     = 14

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "stage" {
  description = "Stage id the job runs: HeavyETL (default; job ceap-workflow-{name}-heavy-etl) or a custom Glue stage of modules/workflow custom_stages (Custom..., job ceap-workflow-{name}-{lower(stage)}). The role writes only under executions/*/{stage}/."
  type        = string
  default     = "HeavyETL"

  validation {
    condition     = var.stage == "HeavyETL" || can(regex("^Custom[A-Z][A-Za-z0-9]{0,11}$", var.stage))
    error_message = "stage must be HeavyETL or a custom stage id (Custom + up to 12 letters/digits)."
  }
}

variable "script_content" {
  description = "The job script's text, uploaded as {lower(stage)}.py instead of script_path (custom Glue stages: a launcher of a module in the stage code zip). script_sha256 must be its hex SHA-256."
  type        = string
  default     = null
}

variable "history_access" {
  description = "Whether the job reads the customer-history dataset (history_uri): HeavyETL does; a custom Glue stage does not, and its role gets no grant on it."
  type        = bool
  default     = true
}
