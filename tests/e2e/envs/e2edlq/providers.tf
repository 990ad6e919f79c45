provider "aws" {
  default_tags {
    tags = {
      Project   = "ceap"
      Workflow  = "e2edlq"
      ManagedBy = "terraform"
    }
  }
}
