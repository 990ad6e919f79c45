mock_provider "aws" {
  override_during = plan
  source          = "../../tests/hcl/mocks/aws"
}

variables {
  bucket_name = "ceap-workflow-realtime-123456789012"
  kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-000000000000"
  expiration_rules = [
    { id = "expire-executions", prefix = "executions/", expiration_days = 7 },
  ]
}

run "encryption_and_access" {
  command = plan

  assert {
    condition     = one(one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default).sse_algorithm == "aws:kms"
    error_message = "SSE-KMS by default"
  }
  assert {
    condition     = one(one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default).kms_master_key_id == var.kms_key_arn
    error_message = "the given key encrypts the bucket"
  }
  assert {
    condition = alltrue([
      aws_s3_bucket_public_access_block.this.block_public_acls,
      aws_s3_bucket_public_access_block.this.block_public_policy,
      aws_s3_bucket_public_access_block.this.ignore_public_acls,
      aws_s3_bucket_public_access_block.this.restrict_public_buckets,
    ])
    error_message = "all public access blocked"
  }
  assert {
    condition     = one(aws_s3_bucket_versioning.this.versioning_configuration).status == "Enabled"
    error_message = "versioning on"
  }
  assert {
    condition     = one(aws_s3_bucket_ownership_controls.this.rule).object_ownership == "BucketOwnerEnforced"
    error_message = "ACLs disabled"
  }
  assert {
    condition     = aws_s3_bucket.this.force_destroy == false
    error_message = "force_destroy is opt-in"
  }
}

run "tls_only_policy" {
  command = plan

  assert {
    condition = jsondecode(aws_s3_bucket_policy.this.policy).Statement == [
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = ["arn:aws:s3:::ceap-workflow-realtime-123456789012", "arn:aws:s3:::ceap-workflow-realtime-123456789012/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
    ]
    error_message = "exactly one statement: deny every non-TLS request to the bucket and its objects"
  }
}

run "lifecycle" {
  command = plan

  assert {
    condition     = [for r in aws_s3_bucket_lifecycle_configuration.this.rule : r.id] == ["expire-executions", "bucket-hygiene"]
    error_message = "one rule per expiring prefix plus the bucket-wide hygiene rule"
  }
  assert {
    condition     = alltrue([for r in aws_s3_bucket_lifecycle_configuration.this.rule : r.status == "Enabled"])
    error_message = "every rule enabled"
  }
  assert {
    condition     = aws_s3_bucket_lifecycle_configuration.this.rule[0].filter[0].prefix == "executions/"
    error_message = "the first rule applies to executions/"
  }
  assert {
    condition     = aws_s3_bucket_lifecycle_configuration.this.rule[0].expiration[0].days == 7
    error_message = "executions/ expires after 7 days"
  }
  assert {
    condition     = aws_s3_bucket_lifecycle_configuration.this.rule[0].noncurrent_version_expiration[0].noncurrent_days == 1
    error_message = "noncurrent versions of execution data expire after 1 day"
  }
  assert {
    condition     = alltrue([for r in aws_s3_bucket_lifecycle_configuration.this.rule : r.abort_incomplete_multipart_upload[0].days_after_initiation == 1])
    error_message = "every rule aborts incomplete multipart uploads after 1 day"
  }
  assert {
    condition     = aws_s3_bucket_lifecycle_configuration.this.rule[1].filter[0].prefix == ""
    error_message = "the hygiene rule covers every object"
  }
  assert {
    condition     = length(aws_s3_bucket_lifecycle_configuration.this.rule[0].expiration) == 1 && length(aws_s3_bucket_lifecycle_configuration.this.rule[1].expiration) == 1
    error_message = "one expiration per rule: by age for the prefix, delete markers bucket-wide"
  }
  assert {
    condition     = aws_s3_bucket_lifecycle_configuration.this.rule[1].noncurrent_version_expiration[0].noncurrent_days == 30
    error_message = "noncurrent versions expire after 30 days bucket-wide"
  }
  assert {
    condition     = aws_s3_bucket_lifecycle_configuration.this.rule[1].expiration[0].expired_object_delete_marker
    error_message = "orphaned delete markers are removed"
  }
}

run "aws_managed_key_when_no_cmk" {
  command = plan

  variables {
    bucket_name      = "ceap-glue-scripts-123456789012"
    kms_key_arn      = null
    expiration_rules = []
  }

  assert {
    condition     = one(one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default).kms_master_key_id == null
    error_message = "no key id means the AWS-managed aws/s3 key"
  }
  assert {
    condition     = [for r in aws_s3_bucket_lifecycle_configuration.this.rule : r.id] == ["bucket-hygiene"]
    error_message = "only the hygiene rule"
  }
  assert {
    condition     = output.bucket_arn == "arn:aws:s3:::ceap-glue-scripts-123456789012"
    error_message = "bucket ARN from the name"
  }
}

run "rejects_bad_bucket_name" {
  command = plan

  variables {
    bucket_name = "Bad_Bucket"
  }

  expect_failures = [var.bucket_name]
}
