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

variable "glue_script" {
  description = "The HeavyETL PySpark script (glue/heavy_etl.py): a local path or an object published by `ceap-tf publish` (s3_bucket, s3_key), with its hex SHA-256."
  type = object({
    sha256    = string
    path      = optional(string)
    s3_bucket = optional(string)
    s3_key    = optional(string)
  })
}
