"""Store: DynamoDB items and keys, TTL, GSI attributes, idempotent re-runs, locking."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from stagekit import TABLE, raw_event, request

from ceap_stages.errors import StageConfigError
from ceap_stages.jsonl import LineSource, ListSink
from ceap_stages.stages import etl, store

RUN = etl.EtlRun(
    "review-request",
    "US",
    "2024-05-01",
    "2024-05-31",
    "exec-1",
    "2024-06-01T00:00:00.000Z",
    "2024-07-01T00:00:00.000Z",
)
NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)


def scored(customer: str = "C00000001", product: str = "B0AAAAAAAA", value: float = 0.73) -> dict:
    candidate = etl.build_candidate(raw_event(customer, product), RUN)
    candidate["scores"] = {"engagement-v1": {"value": value, "confidence": 0.2857}}
    return candidate


def writer(aws, ttl_days: int = 30) -> store.CandidateWriter:
    return store.CandidateWriter(aws.ddb, store.StoreSettings(TABLE, ttl_days=ttl_days), NOW)


def write_lines(aws, candidates: list[dict], ttl_days: int = 30):
    out = ListSink()
    w = writer(aws, ttl_days)
    outcome = store.store_lines(
        LineSource.from_lines([orjson.dumps(c) for c in candidates]), out, w
    )
    return out.records(), outcome


def test_item_has_the_documented_keys_and_attributes(aws) -> None:
    records, outcome = write_lines(aws, [scored()], ttl_days=10)
    item = aws.item(
        "CUSTOMER#C00000001#PROGRAM#review-request#MARKETPLACE#US", "SUBJECT#product#B0AAAAAAAA"
    )
    assert item is not None
    # createdAt 2024-06-01T00:00Z + 10 days = 2024-06-11T00:00Z
    expires = int(datetime(2024, 6, 11, tzinfo=UTC).timestamp())
    assert item["expiresAt"] == {"N": str(expires)}
    assert item["version"] == {"N": "1"}
    assert item["customerId"] == {"S": "C00000001"}
    assert item["programId"] == {"S": "review-request"}
    assert item["marketplace"] == {"S": "US"}
    assert item["subjectType"] == {"S": "product"}
    assert item["subjectId"] == {"S": "B0AAAAAAAA"}
    assert item["channel"] == {"S": "email"}
    assert item["eligibleChannels"] == {"L": [{"S": "email"}, {"S": "inApp"}]}
    assert item["scoreModelId"] == {"S": "engagement-v1"}
    assert item["scoreValue"] == {"N": "0.73"}
    assert item["GSI1PK"] == {"S": "PROGRAM#review-request#CHANNEL#email"}
    assert item["GSI1SK"] == {"N": "0.73"}
    assert item["GSI2PK"] == {"S": "PROGRAM#review-request"}
    assert item["GSI2SK"] == {"S": "DATE#2024-05-10#CUSTOMER#C00000001#SUBJECT#product#B0AAAAAAAA"}
    assert item["workflowExecutionId"] == {"S": "exec-1"}
    assert item["attributes"]["M"]["orderValue"] == {"N": "25.0"}
    assert item["attributes"]["M"]["deliveryDate"] == {"S": "2024-05-12T09:00:00Z"}
    assert item["metadata"]["M"]["expiresAt"] == {"S": "2024-06-11T00:00:00.000Z"}
    assert records[0]["metadata"]["expiresAt"] == "2024-06-11T00:00:00.000Z"
    assert outcome.metrics["created"] == 1


def test_unscored_or_channel_less_candidates_stay_out_of_the_score_index(aws) -> None:
    unscored = scored("C2")
    unscored["scores"] = {}
    silent = scored("C3")
    silent["attributes"]["channelEligibility"] = dict.fromkeys(
        ["email", "push", "inApp", "voice"], False
    )
    write_lines(aws, [unscored, silent])
    for item in aws.items():
        assert "GSI1PK" not in item and "GSI1SK" not in item
        assert item["GSI2PK"] == {"S": "PROGRAM#review-request"}


def test_gsi_attributes_answer_program_channel_score_queries(aws) -> None:
    write_lines(aws, [scored("C1", value=0.9), scored("C2", value=0.4), scored("C3", value=0.6)])
    found = aws.ddb.query(
        TableName=TABLE,
        IndexName="GSI1",
        KeyConditionExpression="GSI1PK = :pk AND GSI1SK >= :min",
        ExpressionAttributeValues={
            ":pk": {"S": "PROGRAM#review-request#CHANNEL#email"},
            ":min": {"N": "0.5"},
        },
        ScanIndexForward=False,
    )["Items"]
    assert [i["customerId"]["S"] for i in found] == ["C1", "C3"]
    by_date = aws.ddb.query(
        TableName=TABLE,
        IndexName="GSI2",
        KeyConditionExpression="GSI2PK = :pk AND begins_with(GSI2SK, :day)",
        ExpressionAttributeValues={
            ":pk": {"S": "PROGRAM#review-request"},
            ":day": {"S": "DATE#2024-05-10#"},
        },
    )["Items"]
    assert len(by_date) == 3


def test_many_candidates_go_through_several_batches(aws) -> None:
    candidates = [scored(f"C{i:08d}", value=i / 1000) for i in range(230)]
    records, outcome = write_lines(aws, candidates)
    assert len(records) == 230
    assert outcome.metrics["created"] == 230
    assert aws.ddb.scan(TableName=TABLE, Select="COUNT")["Count"] == 230


def test_the_same_candidates_again_write_nothing_and_keep_versions(aws) -> None:
    candidates = [scored(f"C{i}") for i in range(30)]
    write_lines(aws, candidates)
    before = {(i["PK"]["S"], i["SK"]["S"]): i for i in aws.items()}
    records, outcome = write_lines(aws, candidates)
    counts = outcome.metrics
    assert (counts["created"], counts["updated"], counts["unchanged"]) == (0, 0, 30)
    after = {(i["PK"]["S"], i["SK"]["S"]): i for i in aws.items()}
    assert after == before
    assert len(records) == 30


def test_changed_content_is_a_conditional_update_with_the_next_version(aws) -> None:
    write_lines(aws, [scored("C1", value=0.2)])
    _, outcome = write_lines(aws, [scored("C1", value=0.8)])
    assert (outcome.metrics["created"], outcome.metrics["updated"]) == (0, 1)
    [item] = aws.items()
    assert item["version"] == {"N": "2"}
    assert item["scoreValue"] == {"N": "0.8"}


def test_one_key_twice_in_a_stream_is_written_in_order(aws) -> None:
    _, outcome = write_lines(aws, [scored("C1", value=0.1), scored("C1", value=0.3)])
    assert (outcome.metrics["created"], outcome.metrics["updated"]) == (1, 1)
    [item] = aws.items()
    assert (item["version"], item["scoreValue"]) == ({"N": "2"}, {"N": "0.3"})


def test_a_stale_read_loses_the_condition_and_retries_on_fresh_data(aws) -> None:
    write_lines(aws, [scored("C1", value=0.1)])
    stale = aws.items()[0]  # version 1
    write_lines(aws, [scored("C1", value=0.2)])  # someone else: version 2
    w = writer(aws)
    mine = scored("C1", value=0.3)
    pending = store.Pending(mine, stale["PK"]["S"], stale["SK"]["S"], store.candidate_hash(mine))
    w.put_conditionally(pending, stale)
    assert w.counts.conflicts == 1
    assert w.counts.updated == 1
    [item] = aws.items()
    assert (item["version"], item["scoreValue"]) == ({"N": "3"}, {"N": "0.3"})


def test_attribute_values_cover_json_types() -> None:
    assert store.attribute_value({"a": [1, 2.5, "x", True, None, {}]}) == {
        "M": {
            "a": {
                "L": [
                    {"N": "1"},
                    {"N": "2.5"},
                    {"S": "x"},
                    {"BOOL": True},
                    {"NULL": True},
                    {"M": {}},
                ]
            }
        }
    }


def test_handler_rerun_of_an_execution_creates_no_duplicates(aws, invoke) -> None:
    events = [raw_event(f"C{i}", delivery_date="2024-05-20") for i in range(12)]
    for stage, previous in (("ETL", None), ("Filter", "ETL"), ("Score", "Filter")):
        invoke(stage, "exec-s", request(events), previous)
    first = invoke("Store", "exec-s", request(events), "Score")
    items = {(i["PK"]["S"], i["SK"]["S"]): i for i in aws.items()}
    second = invoke("Store", "exec-s", request(events), "Score")
    assert first["recordCount"] == second["recordCount"] == 12
    assert {(i["PK"]["S"], i["SK"]["S"]): i for i in aws.items()} == items
    assert all(i["version"] == {"N": "1"} for i in items.values())
    metrics = aws.manifest("exec-s", "Store").metrics
    assert (metrics["created"], metrics["unchanged"]) == (0, 12)


def test_store_requires_its_table_variable(aws, invoke, monkeypatch) -> None:
    monkeypatch.delenv("CEAP_CANDIDATE_TABLE")
    with pytest.raises(StageConfigError, match="CEAP_CANDIDATE_TABLE is not set"):
        invoke("Store", "exec-t", {}, "Score")


def test_a_re_run_with_new_run_timestamps_is_still_unchanged(aws) -> None:
    first = scored("C1")
    write_lines(aws, [first])
    again = scored("C1")
    again["metadata"] = {**again["metadata"], "createdAt": "2024-06-02T00:00:00.000Z"}
    _, outcome = write_lines(aws, [again])
    assert outcome.metrics["unchanged"] == 1
    [item] = aws.items()
    assert item["version"] == {"N": "1"}
    assert item["metadata"]["M"]["createdAt"] == {"S": "2024-06-01T00:00:00.000Z"}
