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
    from triage.v1 import common_pb2, feedback_pb2, feedback_pb2_grpc  # noqa: E402

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

        again = feedback.IngestFeedback(feedback_pb2.IngestFeedbackRequest(feedback=new), metadata=metadata)
        print(f"sent again: already_existed={again.already_existed}, same id={again.feedback.id == stored.id}")

        fetched = feedback.GetFeedback(feedback_pb2.GetFeedbackRequest(id=stored.id), metadata=metadata)
        print(f"fetched: {fetched.text}")

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
