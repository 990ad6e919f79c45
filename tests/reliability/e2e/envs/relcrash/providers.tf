provider "aws" {
  default_tags {
    tags = {
      Project   = "ceap"
      Workflow  = "relcrash"
      ManagedBy = "terraform"
    }
  }
}
