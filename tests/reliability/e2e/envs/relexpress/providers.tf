provider "aws" {
  default_tags {
    tags = {
      Project   = "ceap"
      Workflow  = "relexpress"
      ManagedBy = "terraform"
    }
  }
}
