# Account-wide resources shared by every workflow: the Glue script bucket. STANDARD
# workflows upload their script and stage code under {workflow name}/ and find the
# bucket by name, so apply this root first (the wrapper does).

data "aws_caller_identity" "current" {}

module "glue_scripts_bucket" {
  source = "../../modules/secure_bucket"

  # Objects are encrypted with each workflow's own key (modules/glue_job); the
  # bucket default (AWS-managed aws/s3 key) covers anything uploaded without one.
  bucket_name                        = "ceap-glue-scripts-${data.aws_caller_identity.current.account_id}"
  noncurrent_version_expiration_days = var.noncurrent_version_expiration_days
}
