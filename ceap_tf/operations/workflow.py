"""A deployed workflow: its ``workflow`` output plus the target's boto3 clients."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ceap_tf.errors import UsageProblem
from ceap_tf.executions import WorkflowClient, stages_of
from ceap_tf.target import Target, aws_errors

if TYPE_CHECKING:
    from ceap_tf.app import App


#: Clients the execution runner already holds (service -> its attribute).
_RUNNER_CLIENTS = {"stepfunctions": "sfn", "s3": "s3", "sqs": "sqs"}


@dataclass
class Workflow:
    """One deployed workflow on one target."""

    target: Target
    output: dict[str, Any]
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def open(cls, app: App, name: str) -> Workflow:
        """The deployed workflow ``name`` (its env's terraform output)."""
        from ceap_tf import deploy_flows as deploy

        app.project.workflow(name)
        deployment = deploy.Deployment.open(app, name, None)
        return cls(app.target, deploy.workflow_output(deployment))

    # -- facts from the output ------------------------------------------------

    @property
    def name(self) -> str:
        return str(self.output.get("name"))

    @property
    def type(self) -> str:
        return str(self.output.get("type", "")).upper()

    @property
    def is_standard(self) -> bool:
        return self.type == "STANDARD"

    @property
    def stages(self) -> tuple[str, ...]:
        return stages_of(self.output)

    @property
    def bucket(self) -> str:
        return str(self.output["bucket"])

    @property
    def state_machine_arn(self) -> str:
        return str(self.output["state_machine_arn"])

    @property
    def state_machine_name(self) -> str:
        return str(self.output.get("state_machine_name") or self.state_machine_arn.split(":")[-1])

    def require(self, key: str) -> Any:
        """An output field the running command needs; a clear error when an older
        deployment lacks it."""
        value = self.output.get(key)
        if value is None:
            raise UsageProblem(
                f"the {self.name} workflow output has no {key!r} (deployed by an older ceap-tf)",
                hint=f"re-run: ceap-tf apply {self.name}",
            )
        return value

    @property
    def log_groups(self) -> dict[str, Any]:
        return dict(self.require("log_groups"))

    @property
    def state_machine_log_group(self) -> str:
        return str(self.log_groups["state_machine"])

    # -- clients ---------------------------------------------------------------

    def client(self, service: str) -> Any:
        """A boto3 client of the target, made once (the runner's where it has one)."""
        if service not in self._clients:
            shared = _RUNNER_CLIENTS.get(service)
            if shared is not None:
                self._clients[service] = getattr(self.runner, shared)
            else:
                with aws_errors(self.target):
                    self._clients[service] = self.target.client(service)
        return self._clients[service]

    @property
    def runner(self) -> WorkflowClient:
        """The execution runner of :mod:`ceap_tf.executions` (run, watch, manifests)."""
        if "_runner" not in self._clients:
            self._clients["_runner"] = WorkflowClient(self.target, self.output)
        return self._clients["_runner"]  # type: ignore[no-any-return]

    def s3_uri(self, key: str = "") -> str:
        return f"s3://{self.bucket}/{key}"
