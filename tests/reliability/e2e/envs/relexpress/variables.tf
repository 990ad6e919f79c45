variable "stage_package" {
  description = "Stage artifacts from `ceap-tf package` (.ceap/build/artifacts.json): code and layer zips with their base64 SHA-256, and the Lambda runtime."
  type = object({
    code_zip_path    = string
    code_zip_sha256  = string
    layer_zip_path   = string
    layer_zip_sha256 = string
    runtime          = string
  })
}
