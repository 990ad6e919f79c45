"""``ceap-tf send NAME``: submit an execution input through the queue and the pipe."""

from __future__ import annotations

from pathlib import Path

import click

from ceap_tf.app import App, global_options, json_option, pass_app
from ceap_tf.commands.common import input_options, load_payload


@click.command("send")
@click.argument("name")
@input_options
@click.option("--wait", is_flag=True, help="Find the execution the message started and follow it.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=1800.0,
    show_default=True,
    help="Seconds to wait.",
)
@json_option
@global_options
@pass_app
def send(
    app: App,
    *,
    name: str,
    input_file: Path | None,
    sample: int | None,
    wait: bool,
    timeout: float,
    as_json: bool,
) -> None:
    """Send an execution input to workflow NAME's queue, the production path.

    The EventBridge Pipe starts the execution (unlike `run`, which starts it directly).
    With --wait the execution is found by its input and followed stage by stage; exit
    7 when it does not succeed.
    """
    from ceap_tf.commands.common import print_json
    from ceap_tf.commands.follow_view import finish, stage_line
    from ceap_tf.operations.follow import follow
    from ceap_tf.operations.send import find_started
    from ceap_tf.operations.send import send as send_message
    from ceap_tf.operations.workflow import Workflow

    payload = load_payload(input_file, sample)
    wf = Workflow.open(app, name)
    sent = send_message(wf, payload)
    app.say(f"sent message {sent.message_id} to {wf.output['queue_url']}")
    if not wait:
        if as_json:
            print_json({"workflow": name, "messageId": sent.message_id, "sentAt": sent.at})
        return
    with app.err.status("waiting for the pipe", spinner="dots") as status:
        record = find_started(wf, sent, timeout=timeout, on_status=status.update)
        app.say(f"message {sent.message_id} started execution {record.name}")
        followed = follow(
            wf, record.name, timeout=timeout, on_stage=stage_line(app), on_status=status.update
        )
    finish(app, wf, followed, as_json=as_json)
