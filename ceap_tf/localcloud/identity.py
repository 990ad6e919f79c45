"""The local cloud's identity: its one region and the credentials it accepts.

The one owner of these facts. ``ceap_tf.target`` (the local target's terraform
environment and boto3 session), the local cloud's own clients, the emulated Lambda
functions, the Glue job runs and the server process all read them from here.
Standard library only, so anything may import it.
"""

from __future__ import annotations

#: The region the local cloud serves (moto's default).
LOCAL_REGION = "us-east-1"
#: The access key id and secret the local cloud accepts (moto accepts any).
LOCAL_CREDENTIAL = "test"
#: The credential environment of a process that calls the local cloud.
LOCAL_CREDENTIALS: dict[str, str] = {
    "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIAL,
    "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIAL,
    "AWS_SESSION_TOKEN": LOCAL_CREDENTIAL,
}
