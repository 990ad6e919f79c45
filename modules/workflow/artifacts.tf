# The stage code zip and the dependency layer zip, uploaded to the workflow bucket
# under artifacts/ (SSE-KMS with the workflow key). The functions and the layer are
# created from these objects (s3_bucket/s3_key) rather than from a local `filename`:
# the AWS provider reads every `filename` zip under one provider-wide lock, which
# creates the five functions one after another; from S3 they are created in
# parallel, and one upload serves all five. Lambda copies the code when a function
# is created or its code is updated, with the caller's credentials (the execution
# roles never read artifacts/). source_code_hash on the functions and the layer
# still redeploys every code change; the object is replaced first (it is referenced).
#
# The keys are fixed, so the bucket's versioning keeps earlier uploads as noncurrent
# versions, which the bucket-wide lifecycle rule expires; the executions/ expiry does
# not apply here.

locals {
  artifacts_prefix = "artifacts/"
}

resource "aws_s3_object" "stage_code" {
  bucket                 = module.storage.bucket_name
  key                    = "${local.artifacts_prefix}stage-code.zip"
  source                 = var.stage_package.code_zip_path
  source_hash            = var.stage_package.code_zip_sha256
  content_type           = "application/zip"
  server_side_encryption = "aws:kms"
  kms_key_id             = module.storage.kms_key_arn
}

resource "aws_s3_object" "stage_layer" {
  bucket                 = module.storage.bucket_name
  key                    = "${local.artifacts_prefix}stage-layer.zip"
  source                 = var.stage_package.layer_zip_path
  source_hash            = var.stage_package.layer_zip_sha256
  content_type           = "application/zip"
  server_side_encryption = "aws:kms"
  kms_key_id             = module.storage.kms_key_arn
}
