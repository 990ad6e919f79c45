# Candidate table (SPEC "Store"):
#   PK     CUSTOMER#{customerId}#PROGRAM#{programId}#MARKETPLACE#{marketplace}
#   SK     SUBJECT#{subjectType}#{subjectId}
#   GSI1   program / channel / score:  GSI1PK (S) = PROGRAM#{pid}#CHANNEL#{channel}, GSI1SK (N) = score
#          (sparse: only scored candidates with an eligible channel)
#   GSI2   program / date:             GSI2PK (S) = PROGRAM#{pid}, GSI2SK (S) = DATE#{yyyy-mm-dd}#...
# The Store stage writes these attributes and the TTL attribute (epoch seconds);
# lambda_src/README.md ("DynamoDB item") is the item format.

locals {
  table_indexes = {
    GSI1 = { hash_key = "GSI1PK", range_key = "GSI1SK" } # program / channel / score
    GSI2 = { hash_key = "GSI2PK", range_key = "GSI2SK" } # program / date
  }
  table_attribute_types = {
    PK     = "S"
    SK     = "S"
    GSI1PK = "S"
    GSI1SK = "N" # the score, so the index sorts by it
    GSI2PK = "S"
    GSI2SK = "S"
  }
}

resource "aws_dynamodb_table" "candidates" {
  name                        = local.table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "PK"
  range_key                   = "SK"
  deletion_protection_enabled = var.table_deletion_protection

  dynamic "attribute" {
    for_each = local.table_attribute_types
    content {
      name = attribute.key
      type = attribute.value
    }
  }

  dynamic "global_secondary_index" {
    for_each = local.table_indexes
    content {
      name            = global_secondary_index.key
      hash_key        = global_secondary_index.value.hash_key
      range_key       = global_secondary_index.value.range_key
      projection_type = "ALL"
    }
  }

  ttl {
    attribute_name = var.ttl_attribute_name
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.this.arn
  }
}
