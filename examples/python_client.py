#!/usr/bin/env python3
"""Another service calling triage from Python with grpcio.

Generates the Python stubs from ../proto with grpc_tools (the standard protoc), ingests one
complaint, reads it back, records a resolution, and shows what a validation error looks like.

    pip install grpcio-tools
    python3 examples/python_client.py [--server 127.0.0.1:50051] [--token SECRET]
"""

import argparse
import pathlib
import sys
import tempfile
import time
import uuid

import grpc
from grpc_tools import protoc

PROTO_ROOT = pathlib.Path(__file__).resolve().parent.parent / "proto"


def generate_stubs(out_dir: pathlib.Path) -> None:
    """Compile every .proto under proto/ into out_dir (the well-known types come with grpc_tools)."""
    include = pathlib.Path(protoc.__file__).parent / "_proto"
    files = [str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto")]
    status = protoc.main(
        ["protoc", f"-I{PROTO_ROOT}", f"-I{include}", f"--python_out={out_dir}",
         f"--grpc_python_out={out_dir}", *files]
    )
    if status != 0:
        sys.exit(f"protoc failed with status {status}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="127.0.0.1:50051")
    parser.add_argument("--token", help="bearer token (not needed for a loopback server without tokens)")
    args = parser.parse_args()

    out_dir = pathlib.Path(tempfile.mkdtemp(prefix="triage-stubs-"))
    generate_stubs(out_dir)
    sys.path.insert(0, str(out_dir))
    from triage.v1 import (  # noqa: E402
        common_pb2,
        feedback_pb2,
        feedback_pb2_grpc,
        satisfaction_pb2,
        satisfaction_pb2_grpc,
        search_pb2,
        search_pb2_grpc,
    )

    metadata = [("authorization", f"Bearer {args.token}")] if args.token else []
    with grpc.insecure_channel(args.server) as channel:
        feedback = feedback_pb2_grpc.FeedbackServiceStub(channel)

        new = common_pb2.NewFeedback(
            external_id=f"py-{uuid.uuid4()}",
            customer_id="customer-42",
            text="Замовлення привезли на тиждень пізніше, а підтримка не відповідає.",
            kind=common_pb2.FEEDBACK_KIND_COMPLAINT,
            channel="email",
            score=common_pb2.Score(kind=common_pb2.SCORE_KIND_NPS, value=2),
            attributes={"order_id": "A-1001"},
        )
        stored = feedback.IngestFeedback(
            feedback_pb2.IngestFeedbackRequest(feedback=new), metadata=metadata
        ).feedback
        print(f"stored {stored.id} language={stored.language} ({stored.language_confidence:.2f})")
        print(f"  topics={list(stored.topics)} priority={common_pb2.Priority.Name(stored.priority)}"
              f" sentiment={common_pb2.Sentiment.Name(stored.sentiment)} polarity={stored.polarity:.2f}")
        for flag in stored.flags:
            print(f"  flag {common_pb2.FlagKind.Name(flag.kind)} ({flag.confidence:.2f}): {flag.reason}")

        again = feedback.IngestFeedback(feedback_pb2.IngestFeedbackRequest(feedback=new), metadata=metadata)
        print(f"sent again: already_existed={again.already_existed}, same id={again.feedback.id == stored.id}")

        fetched = feedback.GetFeedback(feedback_pb2.GetFeedbackRequest(id=stored.id), metadata=metadata)
        print(f"fetched: {fetched.text}")
        print(f"  customer segment={common_pb2.Segment.Name(fetched.customer.segment)}"
              f" latest NPS={fetched.customer.latest_nps}")

        satisfaction = satisfaction_pb2_grpc.SatisfactionServiceStub(channel)
        satisfaction.RecordSurveyResponse(
            satisfaction_pb2.RecordSurveyResponseRequest(
                response=satisfaction_pb2.SurveyResponse(
                    external_id=f"py-survey-{uuid.uuid4()}",
                    customer_id="customer-42",
                    score=common_pb2.Score(kind=common_pb2.SCORE_KIND_CSAT, value=2),
                )
            ),
            metadata=metadata,
        )
        profile = satisfaction.GetCustomerProfile(
            satisfaction_pb2.GetCustomerProfileRequest(customer_id="customer-42"), metadata=metadata
        )
        print(f"profile: churn risk {profile.churn_risk:.2f} "
              f"({', '.join(r.code for r in profile.churn_risk_reasons)})")

        search = search_pb2_grpc.SearchServiceStub(channel)
        # New items become searchable within about a second: poll briefly.
        for _ in range(20):
            found = search.SearchFeedback(search_pb2.SearchFeedbackRequest(query="замовленню"), metadata=metadata)
            if found.total_size:
                break
            time.sleep(0.1)
        for hit in found.hits[:3]:
            marked = [m.text for h in hit.highlights for m in h.matches]
            print(f"search hit {hit.feedback.id} matched {marked}")

        try:
            resolved = feedback.ResolveFeedback(
                feedback_pb2.ResolveFeedbackRequest(id=stored.id, resolution="Повернули вартість доставки."),
                metadata=metadata,
            )
            print(f"resolved by {resolved.resolved_by}: {resolved.resolution}")
        except grpc.RpcError as error:
            print(f"resolve refused: {error.code().name}: {error.details()}")

        try:
            bad = common_pb2.NewFeedback(external_id="py-bad", customer_id="c", text="  ",
                                         score=common_pb2.Score(kind=common_pb2.SCORE_KIND_CSAT, value=9))
            feedback.IngestFeedback(feedback_pb2.IngestFeedbackRequest(feedback=bad), metadata=metadata)
        except grpc.RpcError as error:
            print(f"validation error: {error.code().name}: {error.details()}")


if __name__ == "__main__":
    main()
