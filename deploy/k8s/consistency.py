#!/usr/bin/env python3
"""The manifests meet the binaries.

For every overlay, every container that runs a fallwerk binary (`/usr/local/bin/<name>`) is
checked against that binary, built on this machine:

- every environment variable the container gets (its ConfigMaps, Secrets and `env`) is one
  the binary reads: listed as `[env: NAME=]` in the `--help` of the binary or a subcommand,
  a `RETENTION_<CLASS>` the binary names, `RUST_LOG`, or an OpenTelemetry SDK variable;
- its ports: `GRPC_LISTEN`, `METRICS_LISTEN` and `HEALTH_LISTEN` are the ports the container
  declares, the readiness probe asks the health port, the liveness probe a declared port;
- the pod is run as the kubelet would, with exactly that environment: the init container
  (`migrate`, as the schema's owner) must exit 0; the server (as the runtime role) must
  answer SERVING to a gRPC health check with the readiness probe's own service name, and
  exit 0 on SIGTERM; a CronJob's command (`retention run`) must exit 0.

What cannot be the cluster's is replaced, and only that: mounted files (Secrets, ConfigMaps)
come from a temporary directory that holds test values (database URLs of a fresh database,
a dev JWKS and token, a self-signed certificate); listen addresses move from 0.0.0.0 to
free loopback ports. Other services' addresses (UPSTREAMS, the collector) stay unresolvable,
as a pod that starts before its upstreams sees them.

Run by `make test` (deploy/local/test.sh) against its PostgreSQL:
    FALLWERK_TEST_DATABASE_URL=postgres://fallwerk@127.0.0.1:54339/postgres \
        python3 deploy/k8s/consistency.py [--bin-dir target/debug]
"""

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = ROOT / "deploy" / "k8s" / "overlays"
ROLES_SQL = ROOT / "deploy" / "k8s" / "components" / "database-setup" / "roles.sql"
SERVICES = {"intake": "intake", "case-plan": "caseplan", "partner": "partner"}
# Read by libraries, not by the command line: the log filter and the OpenTelemetry SDK.
LIBRARY_VARIABLES = {"RUST_LOG"}
LIBRARY_PREFIXES = ("OTEL_",)
SUBCOMMANDS = [[], ["serve"], ["migrate"], ["retention", "run"], ["audit", "verify"]]
LISTEN_VARIABLES = {"GRPC_LISTEN": "grpc", "METRICS_LISTEN": "metrics", "HEALTH_LISTEN": "health"}

failures = []


def fail(where, problem):
    failures.append(f"{where}: {problem}")
    print(f"FAIL {where}: {problem}")


def variables_read_by(binary):
    """The environment variables `binary` reads, from its help texts and its retention classes."""
    names = set()
    for sub in SUBCOMMANDS:
        out = subprocess.run([binary, *sub, "--help"], capture_output=True, text=True)
        if out.returncode == 0:
            names.update(re.findall(r"\[env: ([A-Z0-9_]+)=", out.stdout))
    # Retention periods are read per record class, by name: the names are in the binary.
    names.update(
        n.decode() for n in re.findall(rb"RETENTION_[A-Z_]+[A-Z]", Path(binary).read_bytes())
    )
    return names


def render(overlay):
    out = subprocess.run(
        ["kubectl", "kustomize", str(overlay)], capture_output=True, text=True, check=True
    )
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def pod_spec(obj):
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    if obj["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
        return obj["spec"]["template"]["spec"]
    return None


def container_env(container, docs):
    """The container's environment as the kubelet builds it; Secret values are `None`."""
    by_name = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    env = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            config = by_name.get(("ConfigMap", source["configMapRef"]["name"]))
            env.update((config or {}).get("data", {}))
        elif "secretRef" in source:
            secret = by_name.get(("Secret", source["secretRef"]["name"]))
            env.update({k: None for k in (secret or {}).get("data", {})})
    for var in container.get("env", []):
        env[var["name"]] = var.get("value")
    return env


def port_of(address):
    return int(address.rsplit(":", 1)[1])


def check_ports(where, container, env):
    declared = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    for variable, port_name in LISTEN_VARIABLES.items():
        if env.get(variable) and declared.get(port_name) != port_of(env[variable]):
            fail(where, f"{variable}={env[variable]} but port `{port_name}` is {declared.get(port_name)}")
    for probe_name in ("readinessProbe", "livenessProbe", "startupProbe"):
        probe = container.get(probe_name)
        if not probe:
            continue
        for kind in ("grpc", "tcpSocket", "httpGet"):
            if kind in probe:
                port = probe[kind]["port"]
                number = declared.get(port) if isinstance(port, str) else port
                if number not in declared.values():
                    fail(where, f"{probe_name} asks port {port}, which the container does not declare")
                if kind == "grpc" and env.get("HEALTH_LISTEN") and number not in (
                    port_of(env["HEALTH_LISTEN"]),
                    port_of(env.get("GRPC_LISTEN", ":0")),
                ):
                    fail(where, f"{probe_name} asks port {number}, which serves no gRPC health")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Fixtures:
    """Test stand-ins for what the cluster mounts, made once per run."""

    def __init__(self, work, bin_dir):
        self.work = work
        self.bin_dir = bin_dir
        cli = str(bin_dir / "fallwerk")
        subprocess.run([cli, "dev-key", "--dir", str(work)], check=True, capture_output=True)
        self.jwks = (work / "jwks.json").read_text()
        self.token = subprocess.run(
            [cli, "dev-token", "--dir", str(work), "--role", "service", "--subject", "consistency"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        tls = work / "tls"
        tls.mkdir()
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-days", "1", "-subj", "/CN=fallwerk-test-ca", "-addext",
             "subjectAltName=DNS:localhost,IP:127.0.0.1",
             "-keyout", str(tls / "tls.key"), "-out", str(tls / "tls.crt")],
            check=True,
            capture_output=True,
        )
        self.tls = {
            "tls.crt": (tls / "tls.crt").read_text(),
            "tls.key": (tls / "tls.key").read_text(),
            "ca.crt": (tls / "tls.crt").read_text(),
        }

    def secret_files(self, name, urls):
        """The files of Secret `name` for a pod of the service whose URLs are `urls`."""
        if name.endswith("-db-owner"):
            return {"url": urls["owner"]}
        if name.endswith("-db"):
            return {"url": urls["runtime"]}
        if name == "fallwerk-jwks":
            return {"jwks.json": self.jwks}
        if name == "fallwerk-service-token":
            return {"token": self.token}
        if name.endswith("-tls") or name.endswith("-ca"):
            return self.tls
        return None


def mount_files(where, spec, container, docs, fixtures, urls, scratch):
    """Local directories for the container's mounts; returns {mountPath: local dir}."""
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    by_name = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    mounts = {}
    for mount in container.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        local = Path(tempfile.mkdtemp(dir=scratch))
        if "secret" in volume:
            files = fixtures.secret_files(volume["secret"]["secretName"], urls)
            if files is None:
                fail(where, f"no test value for Secret {volume['secret']['secretName']}")
                files = {}
        elif "configMap" in volume:
            files = by_name.get(("ConfigMap", volume["configMap"]["name"]), {}).get("data", {})
        else:
            files = {}
        items = (volume.get("secret") or volume.get("configMap") or {}).get("items")
        for key, text in files.items():
            path = key
            if items is not None:
                item = next((i for i in items if i["key"] == key), None)
                if item is None:
                    continue
                path = item["path"]
            (local / path).parent.mkdir(parents=True, exist_ok=True)
            (local / path).write_text(text)
        mounts[mount["mountPath"]] = local
    return mounts


def localised(env, mounts, ports):
    """`env` with mount paths pointing at the local directories and listeners on loopback."""
    out = {}
    for name, value in env.items():
        value = value if value is not None else "secret-value"
        for mount_path, local in sorted(mounts.items(), key=lambda m: -len(m[0])):
            value = value.replace(mount_path, str(local))
        if name in LISTEN_VARIABLES:
            value = f"127.0.0.1:{ports[name]}"
        out[name] = value
    return out


def health_status(port, service):
    """SERVING, NOT_SERVING, ... as a gRPC health Check on `port` answers for `service`
    (the kubelet's gRPC probe), or None without an answer."""
    name = service.encode()
    message = b"\x0a" + bytes([len(name)]) + name
    frame = b"\x00" + len(message).to_bytes(4, "big") + message
    out = subprocess.run(
        ["curl", "-s", "--max-time", "2", "--http2-prior-knowledge", "-X", "POST",
         "-H", "content-type: application/grpc", "-H", "te: trailers", "--data-binary", "@-",
         f"http://127.0.0.1:{port}/grpc.health.v1.Health/Check"],
        input=frame,
        capture_output=True,
    )
    body = out.stdout
    if out.returncode != 0 or len(body) < 5:
        return None
    status = body[5:][1] if body[5:6] == b"\x08" else 0
    return {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}.get(status)


def psql(url, sql):
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql], check=True,
                   capture_output=True)


def fresh_database(admin_url):
    """A new database with the roles and schemas set up as the set-up Job does; its URLs."""
    name = "consistency_" + uuid.uuid4().hex[:12]
    psql(admin_url, f"CREATE DATABASE {name}")
    base = admin_url.rsplit("/", 1)[0]
    superuser = f"{base}/{name}"
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", superuser, "-f", str(ROLES_SQL)],
                   check=True, capture_output=True)
    scheme, rest = superuser.split("://", 1)
    host = rest.split("@", 1)[-1]
    return name, lambda role: f"{scheme}://{role}@{host}"


def run_pod(where, binary, spec, docs, fixtures, admin_url, scratch):
    """Runs the pod's fallwerk containers in order, as the kubelet would."""
    schema = SERVICES[binary.name]
    _, url_as = fresh_database(admin_url)
    runtime_role = f"fallwerk_{schema}_runtime"
    urls = {"owner": url_as(f"fallwerk_{schema}_owner"), "runtime": url_as(runtime_role)}
    containers = spec.get("initContainers", []) + spec["containers"]
    if not any(c.get("args", [])[:1] == ["migrate"] for c in containers):
        # A CronJob runs on a database its Deployment's init container has migrated.
        subprocess.run(
            [str(binary), "--database-url", urls["owner"], "--db-runtime-role", runtime_role, "migrate"],
            check=True,
            capture_output=True,
        )
    for container in containers:
        command = container.get("command", [])
        if not command or Path(command[0]).name != binary.name:
            continue
        here = f"{where}/{container['name']}"
        env = container_env(container, docs)
        mounts = mount_files(here, spec, container, docs, fixtures, urls, scratch)
        ports = {name: free_port() for name in LISTEN_VARIABLES}
        local_env = localised(env, mounts, ports)
        argv = [str(binary), *command[1:], *container.get("args", [])]
        if container.get("args", [])[:1] != ["serve"]:
            done = subprocess.run(argv, env=local_env, capture_output=True, text=True, timeout=120)
            if done.returncode != 0:
                fail(here, f"`{' '.join(argv[1:])}` exited {done.returncode}: {done.stderr.strip()[:600]}")
            else:
                print(f"ok   {here}: `{' '.join(argv[1:])}` exit 0")
            continue
        process = subprocess.Popen(argv, env=local_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        probe = container.get("readinessProbe", {}).get("grpc")
        service = probe.get("service", "") if probe else ""
        status, deadline = None, time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            status = health_status(ports["HEALTH_LISTEN"], service)
            if status == "SERVING":
                break
            time.sleep(0.2)
        if status != "SERVING":
            process.kill()
            _, err = process.communicate()
            fail(here, f"readiness `{service}` answered {status}; exit {process.returncode}: {err.decode()[:600]}")
            continue
        grace = int(local_env.get("SHUTDOWN_GRACE_SECS", "20")) + 5
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            code = "none (killed after the grace period)"
        if code != 0:
            fail(here, f"SIGTERM: exit {code}")
        else:
            print(f"ok   {here}: SERVING as `{service}`, exit 0 on SIGTERM")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin-dir", default=str(ROOT / "target" / "debug"))
    args = parser.parse_args()
    bin_dir = Path(args.bin_dir)
    admin_url = os.environ.get("FALLWERK_TEST_DATABASE_URL")
    if not admin_url:
        sys.exit("FALLWERK_TEST_DATABASE_URL is not set (make test sets it)")
    read_by = {}
    with tempfile.TemporaryDirectory(prefix="fallwerk-consistency-") as scratch:
        fixtures = Fixtures(Path(scratch), bin_dir)
        for overlay in sorted(p for p in OVERLAYS.iterdir() if p.is_dir()):
            docs = render(overlay)
            for obj in docs:
                spec = pod_spec(obj)
                if spec is None:
                    continue
                where = f"overlays/{overlay.name} {obj['kind']}/{obj['metadata']['name']}"
                binary = None
                for container in spec.get("initContainers", []) + spec["containers"]:
                    command = container.get("command", [])
                    if not command or not command[0].startswith("/usr/local/bin/"):
                        continue
                    name = Path(command[0]).name
                    path = bin_dir / name
                    if not path.exists():
                        fail(where, f"{command[0]}: no binary {name} is built in {bin_dir}")
                        continue
                    if name not in read_by:
                        read_by[name] = variables_read_by(path)
                    here = f"{where}/{container['name']}"
                    env = container_env(container, docs)
                    unknown = sorted(
                        v for v in env
                        if v not in read_by[name] and v not in LIBRARY_VARIABLES
                        and not v.startswith(LIBRARY_PREFIXES)
                    )
                    if unknown:
                        fail(here, f"{name} reads no {', '.join(unknown)}")
                    if container.get("args", [])[:1] == ["serve"]:
                        check_ports(here, container, env)
                    if name not in SERVICES and not unknown:
                        print(f"ok   {here}: {name} reads every variable it is given")
                    if name in SERVICES:
                        binary = path
                if binary is not None:
                    run_pod(where, binary, spec, docs, fixtures, admin_url, Path(scratch))
    if failures:
        print(f"\n{len(failures)} problem(s): the manifests and the binaries disagree")
        sys.exit(1)
    print("manifests and binaries agree")


if __name__ == "__main__":
    main()
