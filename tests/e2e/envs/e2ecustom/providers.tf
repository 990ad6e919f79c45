provider "aws" {
  default_tags {
    tags = {
      Project   = "ceap"
      Workflow  = "e2ecustom"
      ManagedBy = "terraform"
    }
  }
}
