"""A generic gRPC client that knows nothing of fallwerk but an address: it asks the server's
reflection service which services it offers and describes each one's methods (request and
response types, streaming), from the descriptors the server sends. Needs no token (reflection
and health are open) and no generated code. Prints one JSON object.

    python reflect.py --addr 127.0.0.1:50051
"""

import argparse
import json

import grpc
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addr", required=True, help="a gRPC address, host:port")
    args = parser.parse_args()

    with grpc.insecure_channel(args.addr) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        pool = DescriptorPool(database)
        described = {}
        for name in database.get_services():
            service = pool.FindServiceByName(name)
            described[name] = [
                {
                    "method": method.name,
                    "request": method.input_type.full_name,
                    "response": method.output_type.full_name,
                    "server_streaming": method.server_streaming,
                }
                for method in service.methods
            ]
    print(json.dumps(described, sort_keys=True))


if __name__ == "__main__":
    main()
