"""ceap-tf: deploy and operate CEAP candidate-processing workflows with Terraform."""

__version__ = "0.1.0"
