"""Targets: the only place that decides AWS endpoints, credentials and state backends.

``local`` (default; ``CEAP_TARGET`` overrides the default) is the embedded local cloud
(moto server) with test credentials and local state files under ``.ceap/local/state``.
``aws`` is a real account through the standard credential chain, with state in an S3
backend (``use_lockfile = true``) or in Terraform Cloud (``--backend tfc``).

A target provides: the environment terraform runs with, boto3 clients for the CLI
(smoke tests, runs, emptying buckets), the backend override HCL written into each
working root, and the Lambda runtime the dependency layer is built for.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import sysconfig
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ceap_tf.errors import CeapError, TargetUnavailable, ToolMissing, UsageProblem
from ceap_tf.localcloud.identity import LOCAL_CREDENTIAL, LOCAL_REGION

if TYPE_CHECKING:
    import boto3

TARGETS = ("local", "aws")
BACKENDS = ("s3", "tfc")
TARGET_ENV = "CEAP_TARGET"
STATE_BUCKET_ENV = "CEAP_STATE_BUCKET"
TFC_ORG_ENV = "TF_CLOUD_ORGANIZATION"
#: Use an already running endpoint for the local target instead of starting the cloud.
LOCAL_ENDPOINT_ENV = "CEAP_LOCAL_ENDPOINT"
DEFAULT_TFC_WORKSPACE = "ceap-{env}"
STATE_KEY = "ceap/{env}/terraform.tfstate"

#: Variables a local run must not inherit from the user's shell.
_AWS_IDENTITY_VARS = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


@dataclass(frozen=True)
class LambdaPlatform:
    """What the dependency layer is built for."""

    runtime: str  # e.g. python3.12
    python_version: str  # e.g. 3.12
    platform_tag: str | None  # pip --platform, or None for this interpreter

    @property
    def label(self) -> str:
        platform = self.platform_tag or sysconfig.get_platform().replace("-", "_").replace(".", "_")
        return f"py{self.python_version}-{platform}"


AWS_LAMBDA_PLATFORM = LambdaPlatform("python3.12", "3.12", "manylinux2014_x86_64")


def local_lambda_platform() -> LambdaPlatform:
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    return LambdaPlatform(f"python{version}", version, None)


@dataclass(frozen=True)
class TargetOptions:
    """The global CLI options that shape a target."""

    name: str | None = None
    profile: str | None = None
    region: str | None = None
    backend: str = "s3"
    state_bucket: str | None = None
    tfc_organization: str | None = None
    tfc_workspace: str | None = None  # a name; "{env}" is replaced by the env name


#: Where the aws target's region comes from, in order (docs/CLI.md "Region").
REGION_SOURCES = ("--region", "AWS_REGION", "AWS_DEFAULT_REGION", "the profile's region")
ENDPOINT_ENV = "AWS_ENDPOINT_URL"
#: Services the S3 backend calls, by the key of its ``endpoints`` block.
_BACKEND_ENDPOINT_SERVICES = ("s3", "sts", "iam", "dynamodb")


def resolve_region(
    flag: str | None, environ: Mapping[str, str], session: boto3.Session | None = None
) -> str:
    """The aws target's region: --region, AWS_REGION, AWS_DEFAULT_REGION, the profile's.

    Terraform, the AWS CLI v2 and most SDKs read ``AWS_REGION``; boto3 reads only
    ``AWS_DEFAULT_REGION`` and the profile, so the CLI resolves the region itself and
    passes it explicitly to every session and to terraform.
    """
    for value in (flag, environ.get("AWS_REGION"), environ.get("AWS_DEFAULT_REGION")):
        if value and value.strip():
            return value.strip()
    if session is not None:
        profile_region = session._session.get_scoped_config().get("region")
        if profile_region:
            return str(profile_region)
    raise TargetUnavailable(
        "no AWS region for the aws target",
        hint="pass --region, set AWS_REGION (or AWS_DEFAULT_REGION), "
        "or add `region = ...` to your profile in ~/.aws/config",
    )


def endpoint_urls(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """User-set endpoint overrides: ``""`` for AWS_ENDPOINT_URL, else the service suffix.

    ``{"": "http://host:4566", "s3": "http://..."}`` for ``AWS_ENDPOINT_URL`` and
    ``AWS_ENDPOINT_URL_S3``. Empty when none are set (real AWS).
    """
    env = os.environ if environ is None else environ
    if env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true":
        return {}
    found: dict[str, str] = {}
    for key, value in env.items():
        if not value:
            continue
        if key == ENDPOINT_ENV:
            found[""] = value.rstrip("/")
        elif key.startswith(f"{ENDPOINT_ENV}_"):
            found[key[len(ENDPOINT_ENV) + 1 :].lower()] = value.rstrip("/")
    return found


def backend_endpoints(endpoints: Mapping[str, str]) -> dict[str, str]:
    """The S3 backend's ``endpoints`` block for the user's endpoint overrides.

    The AWS provider honours AWS_ENDPOINT_URL itself; the S3 backend takes its custom
    endpoints from this block (https://developer.hashicorp.com/terraform/language/
    backend/s3#endpoints): a service-specific variable wins over the global one.
    """
    block: dict[str, str] = {}
    for service in _BACKEND_ENDPOINT_SERVICES:
        value = endpoints.get(service) or endpoints.get("")
        if value:
            block[service] = value
    return block


def resolve_target_name(flag: str | None, environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    name = (flag or env.get(TARGET_ENV) or "local").strip().lower()
    if name not in TARGETS:
        source = "--target" if flag else TARGET_ENV
        raise UsageProblem(
            f"unknown target {name!r} from {source}; use one of: {', '.join(TARGETS)}"
        )
    return name


class Target:
    """Base class; use :func:`make_target`."""

    name: str = ""
    backend: str = "local"

    def __init__(self, ceap_dir: Path, options: TargetOptions) -> None:
        self.ceap_dir = ceap_dir
        self.options = options

    # -- what subclasses provide ---------------------------------------------

    @property
    def lambda_platform(self) -> LambdaPlatform:
        raise NotImplementedError

    @property
    def region(self) -> str:
        raise NotImplementedError

    def terraform_env(self) -> dict[str, str | None]:
        raise NotImplementedError

    def session(self) -> boto3.Session:
        raise NotImplementedError

    def backend_override(self, env_name: str) -> str:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    # -- shared --------------------------------------------------------------

    @property
    def client_endpoint(self) -> str | None:
        """The endpoint_url clients get from the target (None: boto3's own resolution)."""
        return None

    @property
    def custom_endpoints(self) -> bool:
        """Whether clients talk to a non-AWS endpoint (path-style S3, no host prefixes)."""
        return self.client_endpoint is not None

    def client(self, service: str) -> Any:
        from botocore.config import Config

        custom = self.custom_endpoints
        config = Config(
            retries={"max_attempts": 5, "mode": "standard"},
            s3={"addressing_style": "path"} if custom else {},
            connect_timeout=10,
            read_timeout=330,  # StartSyncExecution waits up to 5 minutes
            # StartSyncExecution prefixes the host with "sync-", which an IP endpoint lacks.
            inject_host_prefix=not custom,
        )
        with aws_errors(self):
            return self.session().client(service, endpoint_url=self.client_endpoint, config=config)

    @cached_property
    def account_id(self) -> str:
        with aws_errors(self):
            return str(self.client("sts").get_caller_identity()["Account"])

    def preflight(self, env_name: str) -> None:
        """Check what a terraform run on this target needs, before any work starts."""
        self.terraform_env()
        self.backend_override(env_name)

    @property
    def roots_dir(self) -> Path:
        # Terraform Cloud roots are uploaded, so they hold copies only: keep them apart
        # from the linked roots of the s3 backend (an upload must contain no links).
        return self.ceap_dir / self.name / ("roots-tfc" if self.backend == "tfc" else "roots")

    def is_deployed(self, env_name: str) -> bool | None:
        """Whether the env has resources in its state; None when it cannot be told cheaply."""
        return None

    def check_runtime(self, workflow_type: str) -> None:
        """Fail fast when this target cannot run a workflow of this type (e.g. local Glue)."""


class LocalTarget(Target):
    name = "local"
    backend = "local"
    #: Called with ``LocalCloud.status()`` when this run had to start the local cloud.
    on_cloud_started: Callable[[dict[str, Any]], None] | None = None

    @property
    def lambda_platform(self) -> LambdaPlatform:
        return local_lambda_platform()

    @property
    def region(self) -> str:
        return LOCAL_REGION

    @property
    def state_dir(self) -> Path:
        return self.ceap_dir / "local"

    @cached_property
    def endpoint(self) -> str:
        explicit = os.environ.get(LOCAL_ENDPOINT_ENV)
        if explicit:
            return explicit.rstrip("/")
        try:
            from ceap_tf.localcloud import LocalCloud
        except ImportError as exc:
            raise TargetUnavailable(
                f"the local cloud is not available in this installation ({exc})",
                hint=f"use --target aws or set {LOCAL_ENDPOINT_ENV} to a running endpoint",
            ) from exc
        try:
            cloud = LocalCloud(state_dir=self.state_dir)
            was_running = cloud.status()["running"]
            endpoint = str(cloud.ensure_running()).rstrip("/")
            if not was_running and self.on_cloud_started is not None:
                self.on_cloud_started(cloud.status())
            return endpoint
        except CeapError:
            raise
        except Exception as exc:
            raise TargetUnavailable(
                f"the local cloud did not start: {exc}",
                hint="see `ceap-tf local status`, or reset it with `ceap-tf local reset`",
            ) from exc

    @property
    def client_endpoint(self) -> str | None:
        return self.endpoint

    def terraform_env(self) -> dict[str, str | None]:
        env: dict[str, str | None] = {k: None for k in _AWS_IDENTITY_VARS}
        for key in os.environ:
            if key.startswith("AWS_ENDPOINT_URL_"):
                env[key] = None
        env.update(
            {
                "AWS_ENDPOINT_URL": self.endpoint,
                "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIAL,
                "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIAL,
                "AWS_REGION": LOCAL_REGION,
                "AWS_DEFAULT_REGION": LOCAL_REGION,
                "AWS_EC2_METADATA_DISABLED": "true",
            }
        )
        return env

    def session(self) -> boto3.Session:
        import boto3

        return boto3.Session(
            aws_access_key_id=LOCAL_CREDENTIAL,
            aws_secret_access_key=LOCAL_CREDENTIAL,
            region_name=LOCAL_REGION,
        )

    def state_file(self, env_name: str) -> Path:
        return self.state_dir / "state" / f"{env_name}.tfstate"

    def backend_override(self, env_name: str) -> str:
        path = self.state_file(env_name).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        return _hcl_terraform_block("local", {"path": str(path)})

    def is_deployed(self, env_name: str) -> bool:
        path = self.state_file(env_name)
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            return False
        return bool(state.get("resources"))

    def preflight(self, env_name: str) -> None:
        super().preflight(env_name)
        _check_reachable(self.endpoint)

    def describe(self) -> str:
        return f"local cloud at {self.endpoint}"

    def check_runtime(self, workflow_type: str) -> None:
        """STANDARD workflows run their HeavyETL Glue job as a local PySpark job."""
        if workflow_type != "STANDARD":
            return
        from ceap_tf.localcloud.glue_job_runs import missing_requirements

        missing = missing_requirements()
        if missing:
            raise ToolMissing(
                f"a STANDARD workflow on the local target runs its Glue job with PySpark "
                f"and Java; missing: {'; '.join(missing)}",
                hint="install them, then run the command again",
            )


class AwsTarget(Target):
    name = "aws"

    def __init__(self, ceap_dir: Path, options: TargetOptions) -> None:
        super().__init__(ceap_dir, options)
        if options.backend not in BACKENDS:
            raise UsageProblem(f"unknown backend {options.backend!r}; use s3 or tfc")
        self.backend = options.backend

    @property
    def lambda_platform(self) -> LambdaPlatform:
        return AWS_LAMBDA_PLATFORM

    @cached_property
    def _session(self) -> boto3.Session:
        import boto3
        from botocore.exceptions import ProfileNotFound

        profile = self.options.profile or os.environ.get("AWS_PROFILE") or None
        try:
            session = boto3.Session(profile_name=profile)
        except ProfileNotFound as exc:
            source = "--profile" if self.options.profile else "AWS_PROFILE"
            raise TargetUnavailable(
                f"AWS profile {profile!r} (from {source}) not found",
                hint="check ~/.aws/config or pass another --profile",
            ) from exc
        region = resolve_region(self.options.region, os.environ, session)
        session = boto3.Session(profile_name=profile, region_name=region)
        with aws_errors(self, "loading credentials"):
            credentials = session.get_credentials()
            if credentials is not None:  # SSO and assume-role profiles resolve here, once
                credentials.get_frozen_credentials()
        if credentials is None:
            raise TargetUnavailable(
                "no AWS credentials found for the aws target",
                hint="configure the standard chain (env vars, ~/.aws, SSO) or pass --profile",
            )
        return session

    def session(self) -> boto3.Session:
        return self._session

    @property
    def region(self) -> str:
        return self._session.region_name  # type: ignore[no-any-return]

    @property
    def custom_endpoints(self) -> bool:
        # The endpoint seam: boto3 itself reads AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>
        # (the service-specific one wins), so clients get no endpoint_url from here.
        return bool(endpoint_urls())

    def terraform_env(self) -> dict[str, str | None]:
        self.session()  # fail early, in one line, without credentials
        env: dict[str, str | None] = {}
        if self.options.profile:
            env["AWS_PROFILE"] = self.options.profile
        env["AWS_REGION"] = self.region
        env["AWS_DEFAULT_REGION"] = self.region
        return env  # AWS_ENDPOINT_URL[_*] pass through unchanged: the provider honours them

    @property
    def state_bucket(self) -> str:
        bucket = self.options.state_bucket or os.environ.get(STATE_BUCKET_ENV)
        if not bucket:
            raise TargetUnavailable(
                "no state bucket for the aws target",
                hint=f"pass --state-bucket or set {STATE_BUCKET_ENV} (or use --backend tfc)",
            )
        return bucket

    def tfc_workspace(self, env_name: str) -> str:
        template = self.options.tfc_workspace or DEFAULT_TFC_WORKSPACE
        return template.replace("{env}", env_name)

    def backend_override(self, env_name: str) -> str:
        if self.backend == "tfc":
            organization = self.options.tfc_organization or os.environ.get(TFC_ORG_ENV)
            if not organization:
                raise TargetUnavailable(
                    "no Terraform Cloud organization for --backend tfc",
                    hint=f"set {TFC_ORG_ENV} or pass --tfc-organization",
                )
            return (
                "# Written by ceap-tf for this run; not part of the env's source.\n"
                "terraform {\n"
                "  cloud {\n"
                f"    organization = {json.dumps(organization)}\n"
                "    workspaces {\n"
                f"      name = {json.dumps(self.tfc_workspace(env_name))}\n"
                "    }\n"
                "  }\n"
                "}\n"
            )
        settings: dict[str, object] = {
            "bucket": self.state_bucket,
            "key": STATE_KEY.format(env=env_name),
            "region": self.region,
            "encrypt": True,
            "use_lockfile": True,
        }
        endpoints = backend_endpoints(endpoint_urls())
        if endpoints:
            settings["use_path_style"] = True
        return _hcl_terraform_block("s3", settings, endpoints=endpoints)

    def is_deployed(self, env_name: str) -> bool | None:
        if self.backend != "s3":
            return None
        from botocore.exceptions import ClientError

        s3 = self.client("s3")
        try:
            body = s3.get_object(Bucket=self.state_bucket, Key=STATE_KEY.format(env=env_name))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return False
            raise
        try:
            return bool(json.loads(body["Body"].read()).get("resources"))
        except ValueError:
            return None

    def describe(self) -> str:
        return f"AWS account {self.account_id} in {self.region}"


def _check_reachable(endpoint: str) -> None:
    """Fail fast (one line) when nothing listens at ``endpoint``."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(endpoint)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=5):
            return
    except OSError as exc:
        raise TargetUnavailable(
            f"the local cloud at {endpoint} is not reachable ({exc.strerror or exc})",
            hint=f"start it with `ceap-tf local up` or fix {LOCAL_ENDPOINT_ENV}",
        ) from exc


def _hcl_terraform_block(
    backend: str, settings: Mapping[str, object], *, endpoints: Mapping[str, str] | None = None
) -> str:
    width = max(len(k) for k in settings)
    lines = [
        "# Written by ceap-tf for this run; not part of the env's source.",
        "terraform {",
        f'  backend "{backend}" {{',
    ]
    lines += [f"    {k.ljust(width)} = {json.dumps(v)}" for k, v in settings.items()]
    if endpoints:
        inner = max(len(k) for k in endpoints)
        lines += ["    endpoints = {"]
        lines += [f"      {k.ljust(inner)} = {json.dumps(v)}" for k, v in endpoints.items()]
        lines += ["    }"]
    lines += ["  }", "}", ""]
    return "\n".join(lines)


def make_target(ceap_dir: Path, options: TargetOptions) -> Target:
    name = resolve_target_name(options.name)
    if name == "local":
        if options.backend == "tfc":
            raise UsageProblem("--backend tfc needs --target aws")
        return LocalTarget(ceap_dir, options)
    return AwsTarget(ceap_dir, options)


@contextlib.contextmanager
def aws_errors(target: Target | None = None, action: str = "") -> Iterator[None]:
    """Turn botocore's credential and connection failures into one-line target errors."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
        SSOError,
        TokenRetrievalError,
        UnauthorizedSSOTokenError,
    )
    from botocore.exceptions import ConnectionError as BotoConnectionError

    where = f" ({target.name} target)" if target is not None else ""
    doing = f" while {action}" if action else ""
    try:
        yield
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise TargetUnavailable(
            f"no usable AWS credentials{where}{doing}: {exc}",
            hint="configure the standard chain or pass --profile",
        ) from exc
    except (TokenRetrievalError, UnauthorizedSSOTokenError, SSOError) as exc:
        profile = target.options.profile or os.environ.get("AWS_PROFILE") if target else None
        login = f"aws sso login --profile {profile}" if profile else "aws sso login"
        raise TargetUnavailable(
            f"no valid AWS SSO login{where} ({exc})", hint=f"run `{login}`"
        ) from exc
    except NoRegionError as exc:
        raise TargetUnavailable(
            f"no AWS region{where}", hint="pass --region or set AWS_REGION"
        ) from exc
    except (EndpointConnectionError, BotoConnectionError) as exc:
        raise TargetUnavailable(
            f"cannot reach the {target.name if target else 'AWS'} endpoint{doing}: {exc}"
        ) from exc
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in (
            "ExpiredToken",
            "ExpiredTokenException",
            "InvalidClientTokenId",
            "UnrecognizedClientException",
            "SignatureDoesNotMatch",
        ):
            raise TargetUnavailable(
                f"AWS rejected the credentials{where}: {code}",
                hint="refresh them or pass another --profile",
            ) from exc
        raise
