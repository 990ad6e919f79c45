"""Small shared rules about candidates (the JSON Lines records between stages).

- Channels in priority order: ``email``, ``push``, ``inApp``, ``voice``. A
  candidate's *primary channel* is the first eligible one in that order.
- A candidate's *primary score* is its only entry in ``scores``; with several
  models, the highest ``value`` (ties: the smallest ``modelId``). Store indexes it
  and Reactive compares it with the threshold.
- DynamoDB keys: PK ``CUSTOMER#{customerId}#PROGRAM#{programId}#MARKETPLACE#{marketplace}``,
  SK ``SUBJECT#{subject.type}#{subject.id}``.
"""

from __future__ import annotations

from typing import Any

CHANNELS: tuple[str, ...] = ("email", "push", "inApp", "voice")


def primary_channel(candidate: dict[str, Any]) -> str | None:
    eligibility = candidate.get("attributes", {}).get("channelEligibility") or {}
    for channel in CHANNELS:
        if eligibility.get(channel) is True:
            return channel
    return None


def eligible_channels(candidate: dict[str, Any]) -> list[str]:
    eligibility = candidate.get("attributes", {}).get("channelEligibility") or {}
    return [c for c in CHANNELS if eligibility.get(c) is True]


def primary_score(candidate: dict[str, Any]) -> tuple[str, float, float] | None:
    """(modelId, value, confidence) of the primary score, or None when unscored."""
    scores = candidate.get("scores") or {}
    best: tuple[str, float, float] | None = None
    for model_id in sorted(scores):
        entry = scores[model_id]
        if not isinstance(entry, dict) or not isinstance(entry.get("value"), int | float):
            continue
        value = float(entry["value"])
        if best is None or value > best[1]:
            best = (model_id, value, float(entry.get("confidence") or 0.0))
    return best


def program_and_marketplace(candidate: dict[str, Any]) -> tuple[str, str]:
    meta = candidate.get("metadata") or {}
    program, marketplace = meta.get("programId"), meta.get("marketplace")
    if program is None or marketplace is None:
        for item in candidate.get("context") or ():
            if item.get("type") == "program" and program is None:
                program = item.get("id")
            elif item.get("type") == "marketplace" and marketplace is None:
                marketplace = item.get("id")
    return str(program), str(marketplace)


def partition_key(customer_id: str, program_id: str, marketplace: str) -> str:
    return f"CUSTOMER#{customer_id}#PROGRAM#{program_id}#MARKETPLACE#{marketplace}"


def sort_key(subject_type: str, subject_id: str) -> str:
    return f"SUBJECT#{subject_type}#{subject_id}"


def keys(candidate: dict[str, Any]) -> tuple[str, str]:
    """(PK, SK) of a candidate's DynamoDB item."""
    program, marketplace = program_and_marketplace(candidate)
    subject = candidate["subject"]
    return (
        partition_key(candidate["customerId"], program, marketplace),
        sort_key(subject["type"], subject["id"]),
    )
