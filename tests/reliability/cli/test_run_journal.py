"""The run journal: an execution's input is kept from before its start until its end is
seen, so an execution lost with its target can be found and run again."""

from __future__ import annotations

import json
from pathlib import Path

from ceap_tf.run_journal import RunJournal, journal_dir


def test_an_input_is_kept_until_its_execution_ends(tmp_path: Path) -> None:
    journal = RunJournal(journal_dir(tmp_path / ".ceap", "local", "realtime"))
    assert journal.pending() == []
    kept = journal.keep("run-1", {"programId": "p1", "records": []})
    journal.keep("run-2", {})
    assert kept == tmp_path / ".ceap" / "local" / "runs" / "realtime" / "run-1.json"
    assert json.loads(kept.read_text()) == {"programId": "p1", "records": []}
    assert {p.name for p in journal.pending()} == {"run-1.json", "run-2.json"}
    assert not list(journal.directory.glob("*.partial"))  # written atomically

    journal.ended("run-1")
    journal.ended("run-1")  # ending twice is harmless
    assert [p.name for p in journal.pending()] == ["run-2.json"]
