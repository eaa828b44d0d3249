"""A partner agency's system talking to fallwerk, in Python with grpcio.

It does what a welfare association's specialist service does with the referrals the office
sends it (docs/integrating.md, "The partner workflow"):

1. follows its referral change stream until a new referral arrives,
2. accepts it, reports that the client started, completes it,
3. updates its offer's capacity,
4. and shows the error model: a bad request names each bad field (google.rpc.BadRequest), a
   call in the wrong state names its reason (google.rpc.ErrorInfo).

Calls that are safe to repeat (reads, and creates or state changes carrying a request_id) are
retried on UNAVAILABLE and DEADLINE_EXCEEDED with exponential backoff and jitter, inside the
overall deadline; nothing else is retried.

Each step prints one JSON line on stdout. Exit code 0 when every step went as expected.

    python partner_agency.py --addr 127.0.0.1:50053 --token-file partner.jwt

The client code is generated from the repository's proto/ at start (grpcio-tools) into
--stubs; a real integration generates it in its own build.
"""

import argparse
import datetime
import json
import os
import random
import sys
import time
import uuid


def generate_stubs(proto_dir, out_dir):
    """Generates the partner API's Python code from proto/ (google/type and google/api come
    from googleapis-common-protos, google/protobuf from protobuf itself)."""
    from grpc_tools import protoc
    import grpc_tools

    os.makedirs(out_dir, exist_ok=True)
    well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    files = [
        "fallwerk/partner/v1/partner.proto",
        "fallwerk/type/v1/contact.proto",
        "fallwerk/type/v1/data.proto",
        "fallwerk/type/v1/assessment.proto",
    ]
    status = protoc.main(
        ["protoc", f"-I{proto_dir}", f"-I{well_known}", f"--python_out={out_dir}",
         f"--grpc_python_out={out_dir}"] + files
    )
    if status != 0:
        sys.exit(f"generating the client code from {proto_dir} failed")
    sys.path.insert(0, out_dir)


def call(method, request, metadata, deadline, safe_to_retry):
    """One unary call with the token, inside the overall deadline; retried with backoff and
    jitter on UNAVAILABLE and DEADLINE_EXCEEDED when `safe_to_retry`."""
    import grpc

    delay = 0.05
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the overall deadline passed")
        try:
            return method(request, metadata=metadata, timeout=min(remaining, 5.0))
        except grpc.RpcError as error:
            retry = safe_to_retry and error.code() in (
                grpc.StatusCode.UNAVAILABLE,
                grpc.StatusCode.DEADLINE_EXCEEDED,
            )
            if not retry or time.monotonic() + delay >= deadline:
                raise
            time.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, 1.0)


def details(error):
    """The rich error model of a failed call: the code, the field violations of a BadRequest,
    the reason and metadata of an ErrorInfo."""
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    found = {"code": error.code().name, "message": error.details(), "fields": [], "reason": None}
    status = rpc_status.from_call(error)
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            found["fields"] += [v.field for v in bad.field_violations]
        elif detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            found["reason"] = info.reason
            found["domain"] = info.domain
            found["metadata"] = dict(info.metadata)
    return found


def say(step, **facts):
    print(json.dumps({"step": step, **facts}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addr", required=True, help="partner's gRPC address, host:port")
    parser.add_argument("--token-file", required=True, help="the partner system's JWT")
    parser.add_argument("--timeout", type=float, default=30.0, help="overall deadline, seconds")
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--proto", default=os.path.join(here, "..", "..", "proto"))
    parser.add_argument("--stubs", default=os.path.join(here, "gen"))
    args = parser.parse_args()

    generate_stubs(args.proto, args.stubs)
    import grpc
    from google.type import date_pb2
    from fallwerk.partner.v1 import partner_pb2 as pb
    from fallwerk.partner.v1 import partner_pb2_grpc
    from fallwerk.type.v1 import data_pb2

    deadline = time.monotonic() + args.timeout
    with open(args.token_file) as f:
        metadata = (("authorization", "Bearer " + f.read().strip()),)
    # Plaintext for the local run; a real system uses grpc.secure_channel with the office's CA
    # and, with mutual TLS, its client certificate (docs/integrating.md).
    channel = grpc.insecure_channel(args.addr)
    agency = partner_pb2_grpc.PartnerAgencyServiceStub(channel)

    # 1. The change stream, from the start of this partner's history (a real system keeps its
    # last position and resumes after it). Heartbeats carry a position but no change.
    referral, position = None, 0
    stream = agency.StreamMyReferralChanges(
        pb.StreamMyReferralChangesRequest(after_position=position),
        metadata=metadata,
        timeout=max(deadline - time.monotonic(), 0.1),
    )
    for item in stream:
        if item.HasField("change"):
            position = item.change.position
            if item.change.state == pb.REFERRAL_STATE_SENT:
                referral = item.change.referral
                break
        else:
            position = item.heartbeat_position
    stream.cancel()
    if referral is None:
        sys.exit("the stream ended without a new referral")
    # What the client consented to share is all the referral carries (and a new enum value
    # this client does not know yet arrives as a number: tolerate it).
    categories = [data_pb2.DataCategory.Name(c) if c in data_pb2.DataCategory.values() else c
                  for c in referral.data.categories]
    say("offered", referral_id=referral.id, position=position, categories=categories)

    # 2. Accept, report, complete: each carries a request_id, so a retry cannot do it twice.
    accepted = call(agency.AcceptReferral,
                    pb.AcceptReferralRequest(referral_id=referral.id,
                                             request_id=str(uuid.uuid4())),
                    metadata, deadline, safe_to_retry=True).referral
    say("accepted", state=pb.ReferralState.Name(accepted.state))
    in_two_weeks = datetime.date.today() + datetime.timedelta(days=14)
    reported = call(agency.ReportProgress,
                    pb.ReportProgressRequest(
                        referral_id=referral.id, progress=pb.PROGRESS_STARTED,
                        next_contact=date_pb2.Date(year=in_two_weeks.year,
                                                   month=in_two_weeks.month,
                                                   day=in_two_weeks.day),
                        request_id=str(uuid.uuid4())),
                    metadata, deadline, safe_to_retry=True).referral
    say("reported", state=pb.ReferralState.Name(reported.state),
        progress=pb.Progress.Name(reported.progress))
    completed = call(agency.CompleteReferral,
                     pb.CompleteReferralRequest(referral_id=referral.id,
                                                outcome=pb.REFERRAL_OUTCOME_COMPLETED,
                                                request_id=str(uuid.uuid4())),
                     metadata, deadline, safe_to_retry=True).referral
    say("completed", state=pb.ReferralState.Name(completed.state))

    # 3. The offer's capacity: a set, not a create, and without a request_id, so not retried.
    offer = call(agency.UpdateOfferCapacity,
                 pb.UpdateOfferCapacityRequest(offer_id=referral.offer_id, places=12),
                 metadata, deadline, safe_to_retry=False).offer
    say("capacity", offer_id=offer.id, places=offer.places)

    # 4. The error model. A bad request (no UUIDs, no progress) names each bad field ...
    try:
        call(agency.ReportProgress,
             pb.ReportProgressRequest(referral_id="keine-uuid", request_id="auch-keine"),
             metadata, deadline, safe_to_retry=False)
        sys.exit("a bad request was accepted")
    except grpc.RpcError as error:
        say("bad_request", **details(error))
    # ... and a call in the wrong state names its reason: a completed referral is done.
    try:
        call(agency.AcceptReferral, pb.AcceptReferralRequest(referral_id=referral.id),
             metadata, deadline, safe_to_retry=False)
        sys.exit("a completed referral was accepted again")
    except grpc.RpcError as error:
        say("wrong_state", **details(error))


if __name__ == "__main__":
    main()
