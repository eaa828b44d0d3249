#!/usr/bin/env python3
"""Turns the fallwerk server Deployments of a rendered overlay into `podman run` arguments.

deploy/image/test.sh runs each service's pod on this host the way the kubelet would run it:

    podspec.py prepare --render local.yaml --secrets DIR --out DIR --port-base 29250 [--limits]

For every Deployment labelled app.kubernetes.io/component=server it writes OUT/<name>.json with
the `podman run` arguments of its init container `migrate` and its container `server` (the
image and the command after them), and OUT/<name>/, the files those arguments mount:

- the environment as the kubelet builds it: `envFrom` ConfigMaps in order (a later one wins),
  then `env` (plain values; a Secret or ConfigMap key reference is resolved the same way);
- every volume a container mounts: a Secret from SECRETS/<secretName>/<key> with its items,
  paths and modes, owned by root and the pod's fsGroup like the kubelet's (0440 files stay
  readable to the service through that group), read-only at the same mountPath; a ConfigMap from
  the render; an emptyDir as a tmpfs;
- the security context, the container's over the pod's: runAsUser/runAsGroup as --user,
  fsGroup as a supplementary group, readOnlyRootFilesystem as --read-only (without podman's
  extra tmpfs on /tmp, /var/tmp and /run: the kubelet gives none), capabilities, no new
  privileges, seccomp RuntimeDefault (podman's default profile);
- with --limits, resources.limits as --memory and --cpus;
- --network host. On one host the three pods' ports would collide (every service listens for
  health on 9110) and may be taken by a `make run`, so each named container port moves to
  PORT_BASE + 1.. (grpc), + 11.. (metrics), + 21.. (health), services in the order of their gRPC
  port; every `host:port` setting naming one of the container's own ports follows it, and every
  `scheme://service:port` URL naming a rendered Service is pointed at 127.0.0.1 and the port its
  target moved to. Each change is listed in OUT/<name>.json's "remapped" and printed by test.sh.

It also records, for test.sh's checks: the readiness probe (gRPC port and service name), the
liveness TCP port, terminationGracePeriodSeconds and the preStop sleep; and "problems", the
manifest settings that do not fit (a declared port that no *_LISTEN setting listens on, a
probe on an undeclared port, a volume or reference it cannot provide).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

import yaml

PORT_OFFSETS = {"grpc": 1, "metrics": 11, "health": 21}


def load(render: Path) -> list[dict]:
    with render.open() as f:
        return [d for d in yaml.safe_load_all(f) if d]


def parse_cpu(value: str | int | float) -> str:
    text = str(value)
    if text.endswith("m"):
        return f"{int(text[:-1]) / 1000:g}"
    return f"{float(text):g}"


def parse_memory(value: str | int) -> str:
    text = str(value)
    units = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "K": 1000, "M": 1000**2, "G": 1000**3}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return str(int(float(text[: -len(suffix)]) * factor))
    return str(int(float(text)))


class Pod:
    """One server Deployment's pod, prepared for podman."""

    def __init__(self, deployment: dict, objects: list[dict], secrets: Path, out: Path):
        self.name = deployment["metadata"]["name"]
        self.deployment = deployment
        self.spec = deployment["spec"]["template"]["spec"]
        self.objects = objects
        self.secrets = secrets
        self.out = out / self.name
        self.problems: list[str] = []
        self.remapped: list[str] = []
        self.config_maps = {
            o["metadata"]["name"]: o.get("data", {}) or {}
            for o in objects
            if o.get("kind") == "ConfigMap"
        }

    def container(self, kind: str, name: str) -> dict:
        for c in self.spec.get(kind, []) or []:
            if c["name"] == name:
                return c
        raise SystemExit(f"{self.name}: no {kind[:-1]} named {name!r}")

    def env(self, c: dict) -> dict[str, str]:
        env: dict[str, str] = {}
        for source in c.get("envFrom", []) or []:
            if "configMapRef" in source:
                ref = source["configMapRef"]["name"]
                if ref not in self.config_maps:
                    self.problems.append(f"{c['name']}: envFrom ConfigMap {ref} is not in the render")
                    continue
                prefix = source.get("prefix", "")
                for k, v in self.config_maps[ref].items():
                    env[prefix + k] = str(v)
            else:
                self.problems.append(f"{c['name']}: envFrom {list(source)} is not supported here")
        for item in c.get("env", []) or []:
            if "value" in item:
                env[item["name"]] = str(item["value"])
            elif "valueFrom" in item and "configMapKeyRef" in item["valueFrom"]:
                ref = item["valueFrom"]["configMapKeyRef"]
                env[item["name"]] = str(self.config_maps.get(ref["name"], {}).get(ref["key"], ""))
            elif "valueFrom" in item and "secretKeyRef" in item["valueFrom"]:
                ref = item["valueFrom"]["secretKeyRef"]
                path = self.secrets / ref["name"] / ref["key"]
                if not path.exists():
                    self.problems.append(f"{c['name']}: {item['name']} names Secret {ref['name']} key {ref['key']}, unknown here")
                    continue
                env[item["name"]] = path.read_text()
            else:
                self.problems.append(f"{c['name']}: {item['name']} has a value source not supported here")
                env.setdefault(item["name"], "")
        return env

    def security(self, c: dict) -> list[str]:
        pod = self.spec.get("securityContext", {}) or {}
        own = c.get("securityContext", {}) or {}
        uid = own.get("runAsUser", pod.get("runAsUser"))
        gid = own.get("runAsGroup", pod.get("runAsGroup"))
        args: list[str] = []
        if own.get("runAsNonRoot", pod.get("runAsNonRoot")) and uid == 0:
            self.problems.append(f"{c['name']}: runAsNonRoot with runAsUser 0")
        if uid is not None:
            args += ["--user", f"{uid}:{gid}" if gid is not None else str(uid)]
        fs_group = pod.get("fsGroup")
        if fs_group is not None and fs_group != gid:
            args += ["--group-add", str(fs_group)]
        for g in pod.get("supplementalGroups", []) or []:
            args += ["--group-add", str(g)]
        if own.get("readOnlyRootFilesystem"):
            args += ["--read-only", "--read-only-tmpfs=false"]
        caps = own.get("capabilities", {}) or {}
        for cap in caps.get("drop", []) or []:
            args += ["--cap-drop", cap]
        for cap in caps.get("add", []) or []:
            args += ["--cap-add", cap]
        if own.get("allowPrivilegeEscalation") is False:
            args += ["--security-opt", "no-new-privileges"]
        if own.get("privileged"):
            args += ["--privileged"]
        seccomp = (own.get("seccompProfile") or pod.get("seccompProfile") or {}).get("type")
        if seccomp == "Unconfined":
            args += ["--security-opt", "seccomp=unconfined"]
        elif seccomp not in (None, "RuntimeDefault"):
            self.problems.append(f"{c['name']}: seccompProfile {seccomp} not supported here")
        return args

    def volume_files(self, c: dict) -> list[str]:
        """Writes each mounted volume's files; returns the podman mount arguments."""
        volumes = {v["name"]: v for v in self.spec.get("volumes", []) or []}
        fs_group = (self.spec.get("securityContext", {}) or {}).get("fsGroup")
        args: list[str] = []
        for mount in c.get("volumeMounts", []) or []:
            volume = volumes.get(mount["name"])
            if volume is None:
                self.problems.append(f"{c['name']}: mounts volume {mount['name']}, which the pod lacks")
                continue
            if mount.get("subPath"):
                self.problems.append(f"{c['name']}: subPath mount of {mount['name']} not supported here")
                continue
            ro = ":ro" if mount.get("readOnly") else ""
            if "emptyDir" in volume:
                size = (volume["emptyDir"] or {}).get("sizeLimit")
                opts = "rw,nosuid,nodev" + (f",size={parse_memory(size)}" if size else "")
                args += ["--tmpfs", f"{mount['mountPath']}:{opts}"]
                continue
            if "secret" in volume:
                source = volume["secret"]
                name = source["secretName"]
                base = self.secrets / name
                if not base.is_dir():
                    self.problems.append(f"{c['name']}: mounts Secret {name}, which the test does not provide")
                    continue
                data = {p.name: p.read_bytes() for p in base.iterdir() if p.is_file()}
            elif "configMap" in volume:
                source = volume["configMap"]
                name = source["name"]
                if name not in self.config_maps:
                    self.problems.append(f"{c['name']}: mounts ConfigMap {name}, not in the render")
                    continue
                data = {k: str(v).encode() for k, v in self.config_maps[name].items()}
            else:
                self.problems.append(f"{c['name']}: volume {mount['name']} of kind {sorted(volume)} not supported here")
                continue
            default_mode = source.get("defaultMode", 0o644)
            items = source.get("items") or [{"key": k, "path": k} for k in sorted(data)]
            target = self.out / c["name"] / mount["name"]
            target.mkdir(parents=True, exist_ok=True)
            os.chmod(target, 0o755)
            for item in items:
                if item["key"] not in data:
                    self.problems.append(f"{c['name']}: volume {mount['name']} wants key {item['key']} of {name}, which is not there")
                    continue
                path = target / item["path"]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data[item["key"]])
                os.chmod(path, item.get("mode", default_mode))
                if fs_group is not None and os.geteuid() == 0:
                    os.chown(path, 0, fs_group)
            args += ["-v", f"{target}:{mount['mountPath']}{ro}"]
        return args

    def limits(self, c: dict) -> list[str]:
        limits = (c.get("resources", {}) or {}).get("limits", {}) or {}
        args: list[str] = []
        if "memory" in limits:
            args += ["--memory", parse_memory(limits["memory"])]
        if "cpu" in limits:
            args += ["--cpus", parse_cpu(limits["cpu"])]
        return args


def service_targets(objects: list[dict], deployments: list[dict], host_ports: dict) -> dict:
    """(service name, port) -> (deployment, container port name) for the rendered Services."""
    targets = {}
    for svc in (o for o in objects if o.get("kind") == "Service"):
        selector = svc["spec"].get("selector", {}) or {}
        for d in deployments:
            labels = d["spec"]["template"]["metadata"].get("labels", {})
            if selector and all(labels.get(k) == v for k, v in selector.items()):
                for port in svc["spec"].get("ports", []):
                    target = port.get("targetPort", port["port"])
                    name = target
                    if isinstance(target, int):
                        ports = host_ports.get(d["metadata"]["name"], {})
                        name = next((n for n, (cp, _) in ports.items() if cp == target), None)
                    if name is not None:
                        targets[(svc["metadata"]["name"], port["port"])] = (d["metadata"]["name"], name)
    return targets


def prepare(args: argparse.Namespace) -> int:
    objects = load(args.render)
    deployments = [
        o for o in objects
        if o.get("kind") == "Deployment"
        and o["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "server"
    ]
    if not deployments:
        print("podspec: no server Deployment in the render", file=sys.stderr)
        return 1

    def grpc_port(d: dict) -> int:
        for c in d["spec"]["template"]["spec"]["containers"]:
            for p in c.get("ports", []) or []:
                if p.get("name") == "grpc":
                    return p["containerPort"]
        return 1 << 20

    deployments.sort(key=grpc_port)
    # Host ports: name -> (container port, host port), per Deployment.
    host_ports: dict[str, dict[str, tuple[int, int]]] = {}
    for i, d in enumerate(deployments):
        mapped = {}
        for c in d["spec"]["template"]["spec"]["containers"]:
            for p in c.get("ports", []) or []:
                offset = PORT_OFFSETS.get(p.get("name"))
                if offset is None:
                    continue
                mapped[p["name"]] = (p["containerPort"], args.port_base + offset + i)
        host_ports[d["metadata"]["name"]] = mapped
    targets = service_targets(objects, deployments, host_ports)
    url = re.compile(r"\b(https?)://([A-Za-z0-9.-]+):(\d+)")

    args.out.mkdir(parents=True, exist_ok=True)
    names = []
    for d in deployments:
        pod = Pod(d, objects, args.secrets, args.out)
        mine = host_ports[pod.name]
        by_container_port = {cp: (n, hp) for n, (cp, hp) in mine.items()}
        plan: dict = {"name": pod.name, "host_ports": {n: hp for n, (_, hp) in mine.items()}}

        def remap(container: str, env: dict[str, str]) -> tuple[dict[str, str], set[str]]:
            listened = set()
            for key, value in list(env.items()):
                new = value
                m = re.fullmatch(r"(.*):(\d+)", value)
                if m and not value.startswith(("http://", "https://")) and int(m.group(2)) in by_container_port:
                    port_name, hp = by_container_port[int(m.group(2))]
                    listened.add(port_name)
                    new = f"{m.group(1)}:{hp}"

                def swap(u: re.Match) -> str:
                    host = u.group(2).split(".")[0]
                    hit = targets.get((host, int(u.group(3))))
                    if hit is None:
                        return u.group(0)
                    deployment, port_name = hit
                    hp = host_ports[deployment].get(port_name, (None, None))[1]
                    if hp is None:
                        return u.group(0)
                    return f"{u.group(1)}://127.0.0.1:{hp}"

                new = url.sub(swap, new)
                if new != value:
                    env[key] = new
                    pod.remapped.append(f"{container}: {key}={value} -> {new}")
            return env, listened

        for kind, cname in (("initContainers", "migrate"), ("containers", "server")):
            c = pod.container(kind, cname)
            env, listened = remap(cname, pod.env(c))
            if cname == "server":
                declared = {p.get("name") for p in c.get("ports", []) or []}
                for port_name in sorted(declared & set(PORT_OFFSETS)):
                    if port_name not in listened:
                        pod.problems.append(
                            f"server: container port {port_name} ({mine[port_name][0]}) is declared, "
                            "but no host:port setting listens on it"
                        )
            env_file = args.out / f"{pod.name}-{cname}.env"
            with env_file.open("w") as f:
                for k, v in env.items():
                    if "\n" in v:
                        pod.problems.append(f"{cname}: {k} holds a newline; podman's env file cannot carry it")
                    f.write(f"{k}={v}\n")
            run = ["--network", "host"]
            run += pod.security(c)
            if args.limits:
                run += pod.limits(c)
            run += pod.volume_files(c)
            run += ["--env-file", str(env_file)]
            if c.get("workingDir"):
                run += ["--workdir", c["workingDir"]]
            command = c.get("command")
            if command:
                run += ["--entrypoint", json.dumps(command)]
            plan[cname] = {
                "run": run,
                "args": [str(a) for a in c.get("args", []) or []],
                "env": env,
                "image": c.get("image"),
                "user": run[run.index("--user") + 1] if "--user" in run else "",
            }
            if cname == "server":
                ready = (c.get("readinessProbe") or {}).get("grpc")
                if ready is None:
                    pod.problems.append("server: no gRPC readiness probe")
                else:
                    hit = by_container_port.get(ready["port"])
                    if hit is None:
                        pod.problems.append(f"server: readiness probe port {ready['port']} is no declared container port")
                    plan["readiness"] = {
                        "port": ready["port"],
                        "host_port": hit[1] if hit else ready["port"],
                        "service": ready.get("service", ""),
                        "timeout": (c.get("readinessProbe") or {}).get("timeoutSeconds", 1),
                    }
                live = ((c.get("livenessProbe") or {}).get("tcpSocket") or {}).get("port")
                if live is not None:
                    if isinstance(live, str):
                        plan["liveness_tcp"] = mine.get(live, (None, None))[1]
                    else:
                        plan["liveness_tcp"] = by_container_port.get(live, (None, None))[1]
                    if plan["liveness_tcp"] is None:
                        pod.problems.append(f"server: liveness port {live} is no declared container port")
                sleep = (((c.get("lifecycle") or {}).get("preStop") or {}).get("sleep") or {}).get("seconds", 0)
                plan["prestop_sleep"] = sleep
        plan["grace"] = pod.spec.get("terminationGracePeriodSeconds", 30)
        plan["remapped"] = pod.remapped
        plan["problems"] = pod.problems
        (args.out / f"{pod.name}.json").write_text(json.dumps(plan, indent=2))
        names.append(pod.name)
    (args.out / "services").write_text("\n".join(names) + "\n")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--render", type=Path, required=True)
    p.add_argument("--secrets", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--port-base", type=int, default=29250)
    p.add_argument("--limits", action="store_true")
    args = parser.parse_args()
    return prepare(args)


if __name__ == "__main__":
    sys.exit(main())
