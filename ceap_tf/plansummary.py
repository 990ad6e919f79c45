"""The change summary of a plan, for machines (``plan --json``) and for a pull request
(``plan --markdown FILE``): counts, and every resource address with its action."""

from __future__ import annotations

from typing import Any

from ceap_tf.runner import PlannedChange, PlanResult

#: Rows shown in the Markdown table; the rest are counted ("and N more").
MARKDOWN_ROWS = 100
_ACTION_ORDER = ("delete", "replace", "update", "create", "read", "move", "import", "remove")


def _changes(changes: list[PlannedChange]) -> list[dict[str, str]]:
    return [{"address": c.address, "action": c.action} for c in changes]


def plan_document(env: str, target: str, result: PlanResult, artifacts: str) -> dict[str, Any]:
    """What ``ceap-tf plan --json`` prints (documented in docs/CLI.md)."""
    return {
        "env": env,
        "target": target,
        "changes": result.has_changes,
        "summary": {
            "add": result.summary.add,
            "change": result.summary.change,
            "destroy": result.summary.remove,
            "import": result.summary.import_,
        },
        "resources": _changes(result.changes),
        "drift": _changes(result.drift),
        "artifacts": artifacts,
        "plan_file": str(result.plan_path) if result.plan_path else None,
    }


def _sorted(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    def rank(row: dict[str, str]) -> tuple[int, str]:
        action = row["action"]
        index = _ACTION_ORDER.index(action) if action in _ACTION_ORDER else len(_ACTION_ORDER)
        return index, row["address"]

    return sorted(rows, key=rank)


def _table(rows: list[dict[str, str]]) -> list[str]:
    shown = _sorted(rows)[:MARKDOWN_ROWS]
    lines = ["| action | resource |", "|---|---|"]
    lines += [f"| {r['action']} | `{r['address']}` |" for r in shown]
    if len(rows) > len(shown):
        lines.append(f"| ... | and {len(rows) - len(shown)} more |")
    return lines


def plan_markdown(doc: dict[str, Any]) -> str:
    """A pull-request comment (or ``$GITHUB_STEP_SUMMARY``) of a plan document."""
    summary = doc["summary"]
    counts = (
        f"{summary['add']} to add, {summary['change']} to change, {summary['destroy']} to destroy"
    )
    if summary.get("import"):
        counts += f", {summary['import']} to import"
    lines = [f"### ceap-tf plan: `{doc['env']}` on {doc['target']}", ""]
    if not doc["changes"]:
        lines.append("**No changes.** The deployment matches the configuration.")
    else:
        destroys = summary["destroy"] > 0
        lines.append(f"**{counts}**" + (" (includes destroys: review them)" if destroys else ""))
        lines += ["", *_table(doc["resources"])]
    if doc["drift"]:
        lines += ["", "Changed outside Terraform (drift):", "", *_table(doc["drift"])]
    lines += ["", f"Artifacts: {doc['artifacts']}.", ""]
    return "\n".join(lines)
