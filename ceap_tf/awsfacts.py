"""Facts about AWS services that several parts of ceap-tf need, each stated once.

Standard library only: the CLI (cost, day-2 commands), the packager and the local
cloud import it, none restates it.
"""

from __future__ import annotations

#: DPU per worker of each Glue worker type
#: (https://docs.aws.amazon.com/glue/latest/dg/add-job.html, "Worker type").
GLUE_WORKER_DPU: dict[str, float] = {
    "G.025X": 0.25,
    "G.1X": 1.0,
    "G.2X": 2.0,
    "G.4X": 4.0,
    "G.8X": 8.0,
}

#: Packages the AWS Lambda Python runtime provides besides the standard library, as
#: distribution name -> import name
#: (https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html, "Runtime-included
#: SDK versions"). The layer leaves them out unless pinned; the local cloud offers them.
LAMBDA_RUNTIME_PACKAGES: dict[str, str] = {
    "boto3": "boto3",
    "botocore": "botocore",
    "s3transfer": "s3transfer",
    "jmespath": "jmespath",
    "python-dateutil": "dateutil",
    "six": "six",
    "urllib3": "urllib3",
}


def glue_dpus(worker_type: str, workers: int) -> float:
    """DPUs of ``workers`` workers of ``worker_type`` (an unknown type counts as G.1X)."""
    return GLUE_WORKER_DPU.get(worker_type, 1.0) * workers
