variable "bucket_name" {
  description = "Exact name of the bucket (no generated suffix)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be 3-63 characters of lowercase letters, digits, dots and hyphens."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for default encryption (SSE-KMS). null uses the AWS-managed aws/s3 key."
  type        = string
  default     = null
}

variable "expiration_rules" {
  description = "Prefixes whose objects expire: current versions after expiration_days, noncurrent versions one day after they become noncurrent."
  type = list(object({
    id              = string
    prefix          = string
    expiration_days = number
  }))
  default = []

  validation {
    condition     = alltrue([for r in var.expiration_rules : r.expiration_days >= 1 && r.prefix != ""])
    error_message = "Every expiration rule needs a non-empty prefix and expiration_days >= 1."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which noncurrent object versions are deleted, bucket-wide."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "abort_incomplete_multipart_upload_days" {
  description = "Days after which incomplete multipart uploads are aborted."
  type        = number
  default     = 1

  validation {
    condition     = var.abort_incomplete_multipart_upload_days >= 1
    error_message = "abort_incomplete_multipart_upload_days must be at least 1."
  }
}

variable "force_destroy" {
  description = "Let terraform destroy delete the bucket with its objects (all versions). Keep false for buckets that hold data you need."
  type        = bool
  default     = false
}
