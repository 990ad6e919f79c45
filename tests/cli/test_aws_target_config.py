"""The aws target as users configure it: region order, profiles, credentials, endpoints.

The region comes from --region, then AWS_REGION, then AWS_DEFAULT_REGION, then the
profile's region; the same value reaches boto3 sessions, terraform's environment and
the S3 backend. AWS_ENDPOINT_URL[_*] pass through unchanged (the endpoint seam).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ceap_tf.errors import TargetUnavailable
from ceap_tf.target import AwsTarget, TargetOptions, make_target

KEYS = {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret"}


def aws(tmp_path: Path, **options: str) -> AwsTarget:
    target = make_target(tmp_path, TargetOptions(name="aws", **options))
    assert isinstance(target, AwsTarget)
    return target


@pytest.fixture
def env_keys(clean_aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in KEYS.items():
        monkeypatch.setenv(key, value)


def write_profiles(config: str, credentials: str = "") -> None:
    Path(os.environ["AWS_CONFIG_FILE"]).write_text(config)
    Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"]).write_text(credentials)


def test_aws_region_alone_is_enough(
    env_keys: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: AWS_REGION without AWS_DEFAULT_REGION used to stop with 'no AWS region'."""
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("CEAP_STATE_BUCKET", "tfstate")
    target = aws(tmp_path)
    assert target.region == "us-east-1"
    assert target.session().region_name == "us-east-1"
    env = target.terraform_env()
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert 'region       = "us-east-1"' in target.backend_override("realtime")
    assert target.client("sqs").meta.region_name == "us-east-1"


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        (("eu-west-1", "us-east-2", "us-west-1"), "eu-west-1"),
        ((None, "us-east-2", "us-west-1"), "us-east-2"),
        ((None, None, "us-west-1"), "us-west-1"),
        ((None, None, None), "ap-south-1"),
    ],
)
def test_region_order_flag_env_default_profile(
    env_keys: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sources: tuple[str | None, str | None, str | None],
    expected: str,
) -> None:
    """(--region, AWS_REGION, AWS_DEFAULT_REGION) over a profile region of ap-south-1."""
    write_profiles("[default]\nregion = ap-south-1\n")
    flag, aws_region, default_region = sources
    for name, value in (("AWS_REGION", aws_region), ("AWS_DEFAULT_REGION", default_region)):
        if value:
            monkeypatch.setenv(name, value)
    target = aws(tmp_path, region=flag) if flag else aws(tmp_path)
    assert target.region == expected
    assert target.session().region_name == expected
    assert target.terraform_env()["AWS_REGION"] == expected


def test_no_region_names_every_source(env_keys: None, tmp_path: Path) -> None:
    with pytest.raises(TargetUnavailable) as caught:
        aws(tmp_path).region  # noqa: B018 - the property raises
    message = caught.value.format_message()
    assert "\n" not in message
    for source in ("--region", "AWS_REGION", "AWS_DEFAULT_REGION", "~/.aws/config"):
        assert source in message


def test_aws_profile_env_selects_credentials_and_region(
    clean_aws_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_profiles(
        "[profile team]\nregion = eu-central-1\n",
        "[team]\naws_access_key_id = AKIATEAM\naws_secret_access_key = s\n",
    )
    monkeypatch.setenv("AWS_PROFILE", "team")
    target = aws(tmp_path)
    assert target.session().get_credentials().access_key == "AKIATEAM"
    assert target.region == "eu-central-1"
    env = target.terraform_env()
    assert "AWS_PROFILE" not in env  # inherited from the shell unchanged
    assert env["AWS_REGION"] == "eu-central-1"


def test_profile_flag_beats_aws_profile(
    clean_aws_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_profiles(
        "[profile team]\nregion = eu-central-1\n[profile ops]\nregion = sa-east-1\n",
        "[team]\naws_access_key_id = AKIATEAM\naws_secret_access_key = s\n"
        "[ops]\naws_access_key_id = AKIAOPS\naws_secret_access_key = s\n",
    )
    monkeypatch.setenv("AWS_PROFILE", "team")
    target = aws(tmp_path, profile="ops")
    assert target.session().get_credentials().access_key == "AKIAOPS"
    assert target.region == "sa-east-1"
    assert target.terraform_env()["AWS_PROFILE"] == "ops"
    with pytest.raises(TargetUnavailable, match=r"profile 'ghost' \(from AWS_PROFILE\)"):
        monkeypatch.setenv("AWS_PROFILE", "ghost")
        aws(tmp_path).session()


def test_environment_credentials_without_any_profile(env_keys: None, tmp_path: Path) -> None:
    target = aws(tmp_path, region="us-west-2")
    credentials = target.session().get_credentials()
    assert (credentials.access_key, credentials.method) == ("AKIAEXAMPLE", "env")
    assert "AWS_ACCESS_KEY_ID" not in target.terraform_env()  # the chain, untouched


def test_sso_profile_region_and_login_hint(clean_aws_env: None, tmp_path: Path) -> None:
    write_profiles(
        "[profile sso-dev]\nsso_session = corp\nsso_account_id = 123456789012\n"
        "sso_role_name = Admin\nregion = eu-north-1\n"
        "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\n"
        "sso_region = us-east-1\n"
    )
    target = aws(tmp_path, profile="sso-dev")
    with pytest.raises(TargetUnavailable) as caught:
        target.session()
    message = caught.value.format_message()
    assert "no valid AWS SSO login" in message and "\n" not in message
    assert "aws sso login --profile sso-dev" in message
    assert caught.value.exit_code == 4


def test_endpoint_seam_passes_through(
    env_keys: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("CEAP_STATE_BUCKET", "tfstate")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:4572")
    target = aws(tmp_path)
    env = target.terraform_env()
    assert "AWS_ENDPOINT_URL" not in env and "AWS_ENDPOINT_URL_S3" not in env  # not removed
    hcl = target.backend_override("realtime")
    assert 's3       = "http://127.0.0.1:4572"' in hcl
    assert 'sts      = "http://127.0.0.1:4566"' in hcl
    assert "use_path_style = true" in hcl
    assert target.client("s3").meta.endpoint_url == "http://127.0.0.1:4572"
    assert target.client("sqs").meta.endpoint_url == "http://127.0.0.1:4566"
    assert target.client("stepfunctions").meta.config.inject_host_prefix is False


def test_no_endpoint_variables_means_real_aws(
    env_keys: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CEAP_STATE_BUCKET", "tfstate")
    target = aws(tmp_path, region="eu-west-1")
    hcl = target.backend_override("realtime")
    assert "endpoints" not in hcl and "use_path_style" not in hcl
    assert target.client("s3").meta.endpoint_url == "https://s3.eu-west-1.amazonaws.com"
    assert target.client("stepfunctions").meta.config.inject_host_prefix is True
