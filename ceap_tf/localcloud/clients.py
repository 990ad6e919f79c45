"""boto3 clients the local cloud's own threads use to call the local cloud."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import boto3
from botocore.config import Config

from ceap_tf.localcloud.identity import LOCAL_CREDENTIAL


def local_client(
    service: str,
    endpoint: str,
    region: str,
    config: Config | None = None,
    credentials: Mapping[str, str] | None = None,
) -> Any:
    """A client for ``service`` at ``endpoint``: with a role session's environment
    variables (``credentials``), or else the local cloud's administrator credentials."""
    if credentials:
        return boto3.client(
            service,
            endpoint_url=endpoint,
            region_name=region,
            aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=credentials.get("AWS_SESSION_TOKEN"),
            config=config,
        )
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=LOCAL_CREDENTIAL,
        aws_secret_access_key=LOCAL_CREDENTIAL,
        config=config,
    )
