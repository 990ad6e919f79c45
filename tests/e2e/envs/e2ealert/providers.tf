provider "aws" {
  default_tags {
    tags = {
      Project   = "ceap"
      Workflow  = "e2ealert"
      ManagedBy = "terraform"
    }
  }
}
