variable "stage_package" {
  description = "Stage artifacts: local zips from `ceap-tf package` (code_zip_path, layer_zip_path) or objects published by `ceap-tf publish` (s3_bucket, code_zip_s3_key, layer_zip_s3_key), with the zips' base64 SHA-256 and the Lambda runtime. modules/workflow validates the forms."
  type = object({
    code_zip_sha256  = string
    layer_zip_sha256 = string
    runtime          = string
    code_zip_path    = optional(string)
    layer_zip_path   = optional(string)
    s3_bucket        = optional(string)
    code_zip_s3_key  = optional(string)
    layer_zip_s3_key = optional(string)
  })
}

variable "cost_estimate_usd" {
  description = "Monthly cost estimate from `ceap-tf cost` (ceap-tf apply passes it): the budget's default limit times the margin."
  type        = number
  default     = null
}

variable "alarm_https_endpoints" {
  description = "HTTPS endpoints subscribed to the alarm topic; the test passes its local endpoint as TF_VAR_alarm_https_endpoints."
  type = map(object({
    url                  = string
    auto_confirms        = optional(bool, false)
    raw_message_delivery = optional(bool, false)
  }))
  default   = {}
  sensitive = true
}
