# Mock data shared by the modules' terraform tests (mock_provider "aws" { source = ... }).
# Not a module: realistic account, region, partition and KMS key values, so the ARNs
# in names and in the modules' jsonencode()d policies render as in a real account.

mock_data "aws_caller_identity" {
  defaults = {
    account_id = "123456789012"
    arn        = "arn:aws:iam::123456789012:user/ceap-test"
    user_id    = "AIDACEAPTEST"
  }
}

mock_data "aws_region" {
  defaults = {
    name        = "us-east-1"
    description = "US East (N. Virginia)"
    endpoint    = "ec2.us-east-1.amazonaws.com"
  }
}

mock_data "aws_partition" {
  defaults = {
    partition          = "aws"
    dns_suffix         = "amazonaws.com"
    reverse_dns_prefix = "com.amazonaws"
  }
}

mock_resource "aws_kms_key" {
  defaults = {
    arn    = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-000000000000"
    key_id = "00000000-0000-4000-8000-000000000000"
  }
}
