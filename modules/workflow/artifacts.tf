# Where the functions, the layer and the Glue job find the stage code, in one of the
# two forms of var.stage_package (docs/ARCHITECTURE.md, Terraform).
#
# Local files (`ceap-tf package`): the code zip and the layer zip are uploaded to the
# workflow bucket under artifacts/ (SSE-KMS with the workflow key), and the functions
# and the layer are created from these objects (s3_bucket/s3_key) rather than from a
# local `filename`: the AWS provider reads every `filename` zip under one
# provider-wide lock, which creates the five functions one after another; from S3
# they are created in parallel, and one upload serves all five. The keys are fixed,
# so the bucket's versioning keeps earlier uploads as noncurrent versions, which the
# bucket-wide lifecycle rule expires; the executions/ expiry does not apply here.
#
# Published objects (`ceap-tf publish`): the content-addressed objects in the
# artifact bucket are used in place and nothing is uploaded here. This is the form a
# VCS-driven Terraform Cloud run uses: its checkout holds no zips.
#
# Either way Lambda copies the code when a function or layer version is created or
# updated, with the deployer's credentials (s3:GetObject on the object); the
# execution roles never read it. source_code_hash redeploys every code change.

locals {
  artifacts_prefix = "artifacts/"
  code_published   = var.stage_package.s3_bucket != null

  code_s3_bucket  = local.code_published ? var.stage_package.s3_bucket : one(aws_s3_object.stage_code[*].bucket)
  code_s3_key     = local.code_published ? var.stage_package.code_zip_s3_key : one(aws_s3_object.stage_code[*].key)
  layer_s3_bucket = local.code_published ? var.stage_package.s3_bucket : one(aws_s3_object.stage_layer[*].bucket)
  layer_s3_key    = local.code_published ? var.stage_package.layer_zip_s3_key : one(aws_s3_object.stage_layer[*].key)
}

resource "aws_s3_object" "stage_code" {
  count = local.code_published ? 0 : 1

  bucket                 = module.storage.bucket_name
  key                    = "${local.artifacts_prefix}stage-code.zip"
  source                 = var.stage_package.code_zip_path
  source_hash            = var.stage_package.code_zip_sha256
  content_type           = "application/zip"
  server_side_encryption = "aws:kms"
  kms_key_id             = module.storage.kms_key_arn
}

resource "aws_s3_object" "stage_layer" {
  count = local.code_published ? 0 : 1

  bucket                 = module.storage.bucket_name
  key                    = "${local.artifacts_prefix}stage-layer.zip"
  source                 = var.stage_package.layer_zip_path
  source_hash            = var.stage_package.layer_zip_sha256
  content_type           = "application/zip"
  server_side_encryption = "aws:kms"
  kms_key_id             = module.storage.kms_key_arn
}

# Deployments made before the published form existed keep their uploaded objects.
moved {
  from = aws_s3_object.stage_code
  to   = aws_s3_object.stage_code[0]
}

moved {
  from = aws_s3_object.stage_layer
  to   = aws_s3_object.stage_layer[0]
}
