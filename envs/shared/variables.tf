variable "noncurrent_version_expiration_days" {
  description = "Days after which replaced script versions are deleted."
  type        = number
  default     = 30
}
