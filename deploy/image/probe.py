#!/usr/bin/env python3
"""Probes for deploy/image/test.sh, as the kubelet makes them.

    probe.py grpc-health HOST:PORT SERVICE [--timeout S] [--wait S]
        grpc.health.v1.Health/Check with the readiness probe's `service` over plaintext, each
        attempt with the probe's timeoutSeconds; SERVING is success (the kubelet's gRPC probe).
        With --wait, asks again every second until SERVING or S seconds have passed. Prints the
        last status and the seconds it took; exit 0 on SERVING, 1 otherwise.
    probe.py tcp HOST:PORT         a TCP connect (the liveness probe's tcpSocket)
    probe.py http URL              GET, success on 200..399 (Prometheus' scrape of /metrics)
    probe.py metric URL NAME       the sum of NAME's samples on the /metrics page URL
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
import urllib.request

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def grpc_health(addr: str, service: str, timeout: float, wait: float) -> int:
    started = time.monotonic()
    status = "no answer"
    with grpc.insecure_channel(addr) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                answer = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
                status = health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)
            except grpc.RpcError as e:
                status = f"{e.code().name}: {e.details()}"
            if status == "SERVING" or time.monotonic() - started >= wait:
                break
            time.sleep(1)
    print(f"{status} after {time.monotonic() - started:.1f}s")
    return 0 if status == "SERVING" else 1


def tcp(addr: str) -> int:
    host, port = addr.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            print("connected")
            return 0
    except OSError as e:
        print(f"no connection: {e}")
        return 1


def http(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            body = r.read()
            print(f"HTTP {r.status}, {len(body)} bytes, {sum(1 for l in body.splitlines() if l and not l.startswith(b'#'))} samples")
            return 0 if 200 <= r.status < 400 else 1
    except Exception as e:  # noqa: BLE001 - any failure is a failed probe
        print(f"failed: {e}")
        return 1


def metric(url: str, name: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            body = r.read().decode()
    except Exception as e:  # noqa: BLE001
        print(f"failed: {e}")
        return 1
    total = 0.0
    for line in body.splitlines():
        if line.startswith(name) and line[len(name) : len(name) + 1] in ("{", " "):
            total += float(line.rsplit(" ", 1)[1])
    print(f"{total:g}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("grpc-health")
    g.add_argument("addr")
    g.add_argument("service")
    g.add_argument("--timeout", type=float, default=1.0)
    g.add_argument("--wait", type=float, default=0.0)
    t = sub.add_parser("tcp")
    t.add_argument("addr")
    h = sub.add_parser("http")
    h.add_argument("url")
    m = sub.add_parser("metric")
    m.add_argument("url")
    m.add_argument("name")
    args = parser.parse_args()
    if args.command == "metric":
        return metric(args.url, args.name)
    if args.command == "grpc-health":
        return grpc_health(args.addr, args.service, args.timeout, args.wait)
    if args.command == "tcp":
        return tcp(args.addr)
    return http(args.url)


if __name__ == "__main__":
    sys.exit(main())
