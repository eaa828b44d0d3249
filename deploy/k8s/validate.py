#!/usr/bin/env python3
"""Renders fallwerk's kustomize targets and checks every object they produce.

For the base and each overlay (the load examples and the database set-up together with the
overlay they run against):

1. render it with kustomize (`kustomize build`, or the copy built into `kubectl kustomize`);
2. validate every object against the Kubernetes 1.30 OpenAPI schema, strictly (unknown
   fields are errors), with the kubernetes-validate package, which ships the schemas (it
   reports the first violation of each object). Custom resources (CloudNativePG's Cluster,
   Database, ScheduledBackup, the Barman Cloud Plugin's ObjectStore, the Prometheus
   Operator's PodMonitor) have no schema there: they are checked structurally (apiVersion,
   kind, metadata, the spec fields fallwerk relies on, what they reference);
3. check what the schema cannot see: restricted Pod Security, requests and limits, one
   handler per probe, the shutdown budget, selectors and named ports that point at something,
   files named in settings that a mounted volume provides, no Secret in an environment
   variable, each database connection made as its role (`migrate` the owner, the rest the
   runtime role), upstream feeds (UPSTREAMS) that name a rendered server's gRPC Service with
   the scheme its listener speaks, and the load run's addresses likewise, retention periods in
   their format, Jobs and CronJobs that cannot overlap or hang, Job pods outside the servers'
   selectors, database egress (and the load run's way to the servers) where network policies
   apply, labels, namespaces, and that no Secret (with values) is part of the manifests;
4. run checkov (its Kubernetes checks) over every overlay's render; a failed check fails the
   run, a skipped one is listed with the reason written in the manifests.

The pod checks cover every workload's pod template: a Deployment's or Job's `spec.template`
(the load run, the database set-up), and a CronJob's `spec.jobTemplate.spec.template` (the
retention runs).

Runs offline. Needs `kubernetes-validate`, `PyYAML` and `checkov` (see README.md) and kubectl
or kustomize on PATH; `--no-checkov` leaves step 4 out. Exits 1 on any problem, 2 when it
cannot run at all.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

try:
    import kubernetes_validate
    import yaml
except ImportError as missing:
    print(
        f"validate.py: {missing}. Install its packages first (README.md):\n"
        "  python3 -m venv /tmp/k8svenv && /tmp/k8svenv/bin/pip install 'kubernetes-validate==1.37.*' 'PyYAML>=6' 'checkov==3.3.30'\n"
        "  /tmp/k8svenv/bin/python deploy/k8s/validate.py",
        file=sys.stderr,
    )
    sys.exit(2)

K8S_VERSION = "1.30.0"
HERE = Path(__file__).resolve().parent

# Each target with the namespace its namespaced objects must carry (None: none at all).
TARGETS = {
    "base": None,
    "overlays/local": "fallwerk-local",
    "overlays/production": "fallwerk",
    "overlays/production-cnpg": "fallwerk",
    "overlays/production-database-setup": "fallwerk",
    "overlays/load-example": "fallwerk-local",
    "overlays/load-example-tls": "fallwerk",
}
# Targets that add to a cluster another target renders (the load Job alone, the database set-up
# Job alone): their selectors, Services, network policies and settings are checked together
# with that target's objects, and only the problems the addition brings are reported.
ALONGSIDE = {
    "overlays/production-database-setup": "overlays/production",
    "overlays/load-example": "overlays/local",
    "overlays/load-example-tls": "overlays/production",
}

# Secrets the manifests reference but never contain, as README.md names them: the shared
# JWKS and service token, and per service (the binary a container runs, which is the server
# Deployment's name) its two database roles' Secrets (runtime, owner) and TLS certificate.
SHARED_SECRETS = {"fallwerk-jwks", "fallwerk-service-token"}
RUNTIME_DB_SECRET = "fallwerk-{}-db"
OWNER_DB_SECRET = "fallwerk-{}-db-owner"
SERVICE_SECRETS = (RUNTIME_DB_SECRET, OWNER_DB_SECRET, "fallwerk-{}-tls")
# Each service's schema (and so its roles' names, fallwerk_<schema>_owner and _runtime): the
# service's name without dashes.
SCHEMAS = {"case-plan": "caseplan"}
# Settings naming the file that holds a database URL; a pod with one of them uses the database.
DATABASE_URL_FILES = ("DATABASE_URL_FILE", "DATABASE_ADMIN_URL_FILE")
# The first-time set-up Job (components/database-setup): the administrator's URL, and every
# service's two role Secrets (their `username` and `password`, which it sets).
DB_SETUP = "fallwerk-database-setup"
DB_ADMIN_SECRET = "fallwerk-db-admin"
# CloudNativePG (components/postgres-cnpg): the Cluster's CA (the operator makes `<cluster>-ca`),
# mounted where services check the server's certificate, and the backups' object-store keys.
CNPG = "postgresql.cnpg.io/v1"
CNPG_BACKUP_SECRETS = {"fallwerk-pg-backup-s3"}
# Custom resources checked structurally (no schema in kubernetes-validate): apiVersion and kind.
CUSTOM_KINDS = {
    (CNPG, "Cluster"),
    (CNPG, "Database"),
    (CNPG, "ScheduledBackup"),
    ("barmancloud.cnpg.io/v1", "ObjectStore"),
    ("monitoring.coreos.com/v1", "PodMonitor"),
}
CHECKOV_VERSION = "3.3.30"
# The load run (components/load): the development signing key, and the office CA, which it
# takes from intake's TLS Secret (`ca.crt` alone) where the servers speak TLS.
LOAD = "fallwerk-load"
LOAD_SECRETS = {"fallwerk-load-key", "fallwerk-intake-tls"}
# The load run's address settings and the server each must reach (crates/load's flags).
LOAD_ADDRESSES = {
    "FALLWERK_ADDR": "intake",
    "FALLWERK_CASE_PLAN_ADDR": "case-plan",
    "FALLWERK_PARTNER_ADDR": "partner",
}

CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PriorityClass"}
JOBS = {"Job", "CronJob"}
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet"} | JOBS
PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
# Labels every pod template carries: the network policies select pods by them.
POD_LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/part-of", "app.kubernetes.io/component")

# File settings that only `<service> serve` reads (crates/platform/src/config.rs: AuthArgs,
# ServerArgs and FeedArgs, which only `serve`'s arguments flatten). Every subcommand reads the
# database and log settings; `migrate` and `retention run` get fallwerk-config, which names
# JWKS_FILE and SERVICE_TOKEN_FILE, without mounting those Secrets. Any other `*_FILE` setting
# is checked for every container.
SERVE_ONLY_FILES = {
    "JWKS_FILE",
    "SERVICE_TOKEN_FILE",
    "UPSTREAM_CA_FILE",
    "UPSTREAM_CERT_FILE",
    "UPSTREAM_KEY_FILE",
    "TLS_CERT_FILE",
    "TLS_KEY_FILE",
    "TLS_CLIENT_CA_FILE",
}
# Settings naming a directory, and the file a program reads from it (checked like *_FILE): the
# load run's development signing key (`fallwerk dev-key` writes it).
DIR_FILES = {"FALLWERK_KEY_DIR": "dev-signing-key.pem"}
# A retention period (RETENTION_*): a number and a unit, y years, m months, d days.
RETENTION_PERIOD = re.compile(r"[0-9]+[ymd]")


def renderer() -> list[str]:
    """The kustomize command line available here."""
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    print("validate.py: neither kustomize nor kubectl is on PATH", file=sys.stderr)
    sys.exit(2)


def render(command: list[str], target: str) -> list[dict]:
    """The objects kustomize renders for `target`; raises on a kustomize error."""
    done = subprocess.run(
        [*command, str(HERE / target)], capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip() or f"exit code {done.returncode}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def ident(obj: dict) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def schema_problems(obj: dict) -> list[str]:
    try:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        where = ".".join(str(p) for p in error.path) or "(top)"
        return [f"schema: {where}: {error.message}"]
    except kubernetes_validate.SchemaNotFoundError as error:
        return [f"schema: {error.message}"]
    return []


def label_problems(obj: dict) -> list[str]:
    labels = obj["metadata"].get("labels") or {}
    problems = []
    if labels.get("app.kubernetes.io/part-of") != "fallwerk":
        problems.append("label app.kubernetes.io/part-of=fallwerk missing")
    if obj["kind"] not in {"Namespace", "NetworkPolicy"}:
        for key in ("app.kubernetes.io/name", "app.kubernetes.io/component"):
            if key not in labels:
                problems.append(f"label {key} missing")
    return problems


def namespace_problems(obj: dict, expected: str | None) -> list[str]:
    if obj["kind"] in CLUSTER_SCOPED:
        return []
    actual = obj["metadata"].get("namespace")
    if actual != expected:
        return [f"namespace is {actual!r}, expected {expected!r}"]
    return []


def pod_template(obj: dict) -> dict:
    """A workload's pod template: `spec.template`, or a CronJob's
    `spec.jobTemplate.spec.template`."""
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]
    return obj["spec"]["template"]


def job_spec(obj: dict) -> dict | None:
    """The Job spec of a Job or CronJob, else None."""
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]
    if obj["kind"] == "Job":
        return obj["spec"]
    return None


def subcommand(c: dict) -> str | None:
    """The subcommand a fallwerk container runs (`serve`, `migrate`, `retention`): the first
    word after the binary that is no flag."""
    words = [*(c.get("command") or [])[1:], *(c.get("args") or [])]
    return next((w for w in words if not w.startswith("-")), None)


def services_run(pod: dict) -> set[str]:
    """The fallwerk services whose binaries a pod's containers run (`/usr/local/bin/intake`)."""
    return {Path(c["command"][0]).name for _, c in containers(pod) if c.get("command")}


def containers(pod: dict) -> list[tuple[str, dict]]:
    return [("initContainer", c) for c in pod.get("initContainers", [])] + [
        ("container", c) for c in pod.get("containers", [])
    ]


def env_value(container: dict, name: str, config_maps: dict[str, dict]) -> str | None:
    """A variable's value as the container sees it: `env` wins over `envFrom`, and a later
    `envFrom` source over an earlier one."""
    for var in container.get("env", []):
        if var["name"] == name and "value" in var:
            return var["value"]
    for source in reversed(container.get("envFrom", [])):
        ref = source.get("configMapRef")
        if ref and name in config_maps.get(ref["name"], {}):
            return config_maps[ref["name"]][name]
    return None


def pod_problems(obj: dict, config_maps: dict[str, dict]) -> list[str]:
    """Restricted Pod Security, resources, probes and the shutdown budget of one workload; for
    Jobs and CronJobs their restart policy, deadline and schedule; pod labels."""
    template = pod_template(obj)
    pod = template["spec"]
    pod_sc = pod.get("securityContext") or {}
    problems = []
    problems += pod_label_problems(obj)
    problems += job_problems(obj)
    if pod_sc.get("runAsNonRoot") is not True:
        problems.append("pod securityContext.runAsNonRoot is not true")
    if pod_sc.get("runAsUser", 0) == 0:
        problems.append("pod securityContext.runAsUser is root or unset")
    if (pod_sc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        problems.append("pod seccompProfile is not RuntimeDefault")
    if pod.get("automountServiceAccountToken") is not False:
        problems.append("automountServiceAccountToken is not false")
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(key):
            problems.append(f"{key} is set")
    for volume in pod.get("volumes", []):
        if "hostPath" in volume:
            problems.append(f"volume {volume['name']} is a hostPath")

    for role, c in containers(pod):
        where = f"{role} {c['name']}"
        sc = c.get("securityContext") or {}
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{where}: allowPrivilegeEscalation is not false")
        if sc.get("privileged"):
            problems.append(f"{where}: privileged")
        if sc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{where}: readOnlyRootFilesystem is not true")
        if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
            problems.append(f"{where}: capabilities do not drop ALL")
        if (sc.get("capabilities") or {}).get("add"):
            problems.append(f"{where}: adds capabilities")
        resources = c.get("resources") or {}
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in (resources.get(kind) or {}):
                    problems.append(f"{where}: no {kind}.{resource}")
        for probe_name in ("startupProbe", "readinessProbe", "livenessProbe"):
            probe = c.get(probe_name)
            if probe is None:
                continue
            handlers = [h for h in PROBE_HANDLERS if h in probe]
            if len(handlers) != 1:
                problems.append(f"{where}: {probe_name} has {len(handlers)} handlers {handlers}, needs exactly 1")
        if role == "container" and c["name"] == "server":
            for probe_name in ("readinessProbe", "livenessProbe"):
                if probe_name not in c:
                    problems.append(f"{where}: no {probe_name}")
            # Every gRPC health name of a fallwerk service follows the database.
            if "grpc" in (c.get("livenessProbe") or {}):
                problems.append(f"{where}: gRPC liveness probe would restart pods when the database is away")

        problems += file_problems(c, pod, config_maps, where)
        problems += retention_problems(c, config_maps, where)
        problems += secret_env_problems(c, where)
        problems += database_problems(c, pod, config_maps, where)

        grace = env_value(c, "SHUTDOWN_GRACE_SECS", config_maps)
        if role == "container" and grace is not None:
            sleep = ((c.get("lifecycle") or {}).get("preStop") or {}).get("sleep", {}).get("seconds", 0)
            period = pod.get("terminationGracePeriodSeconds", 30)
            if int(grace) + sleep >= period:
                problems.append(
                    f"{where}: preStop sleep {sleep}s + SHUTDOWN_GRACE_SECS {grace}s "
                    f"is not below terminationGracePeriodSeconds {period}s"
                )
    return problems


def pod_label_problems(obj: dict) -> list[str]:
    """The labels the network policies select pods by, on the pod template (and on the Jobs a
    CronJob creates)."""
    problems = []
    labelled = [("pod template", pod_template(obj))]
    if obj["kind"] == "CronJob":
        labelled.insert(0, ("job template", obj["spec"]["jobTemplate"]))
    for what, template in labelled:
        labels = (template.get("metadata") or {}).get("labels") or {}
        if labels.get("app.kubernetes.io/part-of") != "fallwerk":
            problems.append(f"{what}: label app.kubernetes.io/part-of=fallwerk missing")
        for key in POD_LABELS:
            if key not in labels:
                problems.append(f"{what}: label {key} missing")
    return problems


def job_problems(obj: dict) -> list[str]:
    """A Job's pods restart Never or OnFailure (the API refuses Always, the schema does not
    know); a run has a deadline, and goes some time after it finished; a load run is not
    retried; a CronJob's runs never overlap, in a named time zone, and a missed run is not
    started arbitrarily late."""
    spec = job_spec(obj)
    if spec is None:
        return []
    problems = []
    restart = pod_template(obj)["spec"].get("restartPolicy", "Always")
    if restart not in {"Never", "OnFailure"}:
        problems.append(f"pod restartPolicy is {restart}, a Job's must be Never or OnFailure")
    if "activeDeadlineSeconds" not in spec:
        problems.append("no activeDeadlineSeconds: a hung run would run (and under Forbid block the next) forever")
    if "ttlSecondsAfterFinished" not in spec:
        problems.append("no ttlSecondsAfterFinished: finished runs and their pods would stay until deleted")
    if LOAD in services_run(pod_template(obj)["spec"]) and spec.get("backoffLimit", 6) != 0:
        problems.append("a load run's backoffLimit is not 0: a retry would measure another run on top of a failed one")
    if obj["kind"] == "CronJob":
        if obj["spec"].get("concurrencyPolicy") != "Forbid":
            problems.append("concurrencyPolicy is not Forbid: two runs could work on the database at once")
        if not obj["spec"].get("timeZone"):
            problems.append("no timeZone: the schedule would follow the controller manager's zone")
        if "startingDeadlineSeconds" not in obj["spec"]:
            problems.append("no startingDeadlineSeconds: a missed run would start however late")
    return problems


def env_names(c: dict, config_maps: dict[str, dict]) -> set[str]:
    """The variables a container gets from `env` and from ConfigMaps in `envFrom`."""
    names = {v["name"] for v in c.get("env", [])}
    for source in c.get("envFrom", []):
        ref = source.get("configMapRef")
        if ref:
            names |= set(config_maps.get(ref["name"], {}))
    return names


def secret_env_problems(c: dict, where: str) -> list[str]:
    """No Secret in an environment variable (checkov's CKV_K8S_35): a variable shows in the
    process's environment, in crash dumps and in everything the process starts; a mounted file
    is read where its path is named. The programs take `*_FILE` settings instead."""
    problems = [
        f"{where}: Secret {var['valueFrom']['secretKeyRef']['name']} in the environment variable {var['name']}: mount it and name the file"
        for var in c.get("env", [])
        if "secretKeyRef" in (var.get("valueFrom") or {})
    ]
    problems += [
        f"{where}: Secret {source['secretRef']['name']} in environment variables (envFrom): mount it and name the files"
        for source in c.get("envFrom", [])
        if "secretRef" in source
    ]
    return problems


def mounted_secret(c: dict, pod: dict, path: str) -> str | None:
    """The Secret a file path of the container comes from, if a Secret volume provides it."""
    mounts = [m for m in c.get("volumeMounts", []) if path.startswith(m["mountPath"].rstrip("/") + "/")]
    if not mounts:
        return None
    mount = max(mounts, key=lambda m: len(m["mountPath"]))
    volume = next((v for v in pod.get("volumes", []) if v["name"] == mount["name"]), {})
    return (volume.get("secret") or {}).get("secretName")


def database_problems(c: dict, pod: dict, config_maps: dict[str, dict], where: str) -> list[str]:
    """Each fallwerk command connects as its role, from a mounted file: `migrate` as the
    schema's owner (Secret fallwerk-<service>-db-owner) with DB_RUNTIME_ROLE naming the runtime
    role it grants to, `serve` and `retention run` as the runtime role (fallwerk-<service>-db),
    without DB_RUNTIME_ROLE. DATABASE_URL is not set (the binaries take one of the two)."""
    command = subcommand(c)
    if not c.get("command") or command not in {"serve", "migrate", "retention"}:
        return []
    service = Path(c["command"][0]).name
    schema = SCHEMAS.get(service, service.replace("-", ""))
    names = env_names(c, config_maps)
    problems = []
    if "DATABASE_URL" in names:
        problems.append(f"{where}: DATABASE_URL is set: the URL goes in a mounted file named by DATABASE_URL_FILE")
    path = env_value(c, "DATABASE_URL_FILE", config_maps)
    wanted = (OWNER_DB_SECRET if command == "migrate" else RUNTIME_DB_SECRET).format(service)
    role = "owner" if command == "migrate" else "runtime"
    if path is None:
        problems.append(f"{where}: no DATABASE_URL_FILE: `{service} {command}` would not reach its database")
    else:
        secret = mounted_secret(c, pod, path)
        if secret is not None and secret != wanted:
            problems.append(
                f"{where}: DATABASE_URL_FILE={path} is from Secret {secret}; `{service} {command}` "
                f"connects as the {role} role, whose URL is in {wanted}"
            )
    grant_to = env_value(c, "DB_RUNTIME_ROLE", config_maps)
    if command == "migrate" and grant_to != f"fallwerk_{schema}_runtime":
        problems.append(
            f"{where}: DB_RUNTIME_ROLE is {grant_to!r}, expected 'fallwerk_{schema}_runtime': "
            "migrate grants the runtime role its rights"
        )
    if command != "migrate" and grant_to is not None:
        problems.append(f"{where}: DB_RUNTIME_ROLE is set, which only `migrate` uses")
    return problems


def retention_problems(c: dict, config_maps: dict[str, dict], where: str) -> list[str]:
    """Retention periods (RETENTION_*, read by `<service> retention run`) are a number and a
    unit, `y`, `m` or `d`: a typo would only show when the night's run fails."""
    if subcommand(c) != "retention":
        return []
    problems = []
    names = env_names(c, config_maps)
    for name in sorted(n for n in names if n.startswith("RETENTION_") and not n.endswith("_FILE")):
        value = env_value(c, name, config_maps)
        if value is not None and not RETENTION_PERIOD.fullmatch(value):
            problems.append(f"{where}: {name}={value!r} is no period (a number and y, m or d, e.g. 6m)")
    return problems


def file_problems(c: dict, pod: dict, config_maps: dict[str, dict], where: str) -> list[str]:
    """Settings ending in _FILE (JWKS_FILE, SERVICE_TOKEN_FILE, TLS_CERT_FILE, ...) must name a
    file that a volume mounted into the container provides: the root file system is read-only
    and the image holds nothing but the binaries. The settings only `serve` reads are checked
    only where the container serves. A directory setting (DIR_FILES) must provide the file
    read from it."""
    names = env_names(c, config_maps)
    if subcommand(c) != "serve":
        names -= SERVE_ONLY_FILES
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    problems = []
    for name in sorted(n for n in names if n.endswith("_FILE") or n in DIR_FILES):
        path = env_value(c, name, config_maps)
        if not path or not path.startswith("/"):
            continue
        if name in DIR_FILES:
            path = f"{path.rstrip('/')}/{DIR_FILES[name]}"
        mounts = [m for m in c.get("volumeMounts", []) if path.startswith(m["mountPath"].rstrip("/") + "/")]
        if not mounts:
            problems.append(f"{where}: {name}={path} is under no volume mount")
            continue
        mount = max(mounts, key=lambda m: len(m["mountPath"]))
        rest = path[len(mount["mountPath"].rstrip("/")) + 1 :]
        items = ((volumes.get(mount["name"]) or {}).get("secret") or {}).get("items")
        if items is not None and rest not in {i["path"] for i in items}:
            problems.append(f"{where}: {name}={path}: volume {mount['name']} holds no {rest}")
    return problems


def upstream_problems(
    templates: list[tuple[dict, dict]], services: dict[str, dict], config_maps: dict[str, dict]
) -> list[tuple[str, str]]:
    """Each `name=url` of a server's UPSTREAMS names another rendered server and dials that
    server's gRPC port through one of its Services, https exactly when its listener has TLS."""
    servers = rendered_servers(templates)
    problems: list[tuple[str, str]] = []
    for name, (_, c) in servers.items():
        value = env_value(c, "UPSTREAMS", config_maps)
        for pair in (value or "").split(","):
            if not pair.strip():
                continue
            upstream, _, url = pair.strip().partition("=")
            where = f"UPSTREAMS {upstream}={url}"
            if upstream == name or upstream not in servers:
                problems.append((f"Deployment/{name}", f"{where}: {upstream} is no other rendered server"))
                continue
            found = dial_problems(url, upstream, servers, services, config_maps)
            problems += [(f"Deployment/{name}", f"{where}: {problem}") for problem in found]
    return problems


def rendered_servers(templates: list[tuple[dict, dict]]) -> dict[str, tuple[dict, dict]]:
    """The rendered fallwerk servers by Deployment name: their pod template and `server`
    container."""

    def server(template: dict) -> dict | None:
        return next((c for c in template["spec"].get("containers", []) if c["name"] == "server"), None)

    return {w["metadata"]["name"]: (t, server(t)) for w, t in templates if w["kind"] == "Deployment" and server(t)}


def dial_problems(
    url: str,
    upstream: str,
    servers: dict[str, tuple[dict, dict]],
    services: dict[str, dict],
    config_maps: dict[str, dict],
) -> list[str]:
    """What is wrong with `url` as the address of the rendered server `upstream`: it must dial
    that server's gRPC port through one of its Services, https exactly when its listener has
    TLS."""
    found: list[str] = []
    scheme, _, authority = url.partition("://")
    host, _, port = authority.rstrip("/").partition(":")
    up_template, up_server = servers[upstream]
    wanted = "https" if env_value(up_server, "TLS_CERT_FILE", config_maps) else "http"
    if scheme != wanted:
        found.append(f"{upstream}'s listener wants {wanted}")
    svc = services.get(host.split(".")[0])
    if not svc or not matches(svc["spec"].get("selector") or {}, up_template["metadata"].get("labels") or {}):
        found.append(f"{host} is no Service of {upstream}'s pods")
    elif not any(str(p["port"]) == port and p.get("targetPort") == "grpc" for p in svc["spec"].get("ports", [])):
        found.append(f"port {port or '(none)'} of Service {host} is not {upstream}'s gRPC port")
    return found


def load_containers(templates: list[tuple[dict, dict]]) -> list[tuple[dict, dict, dict]]:
    """The containers that run the load generator, with their workload and pod template."""
    return [
        (w, t, c)
        for w, t in templates
        for _, c in containers(t["spec"])
        if c.get("command") and Path(c["command"][0]).name == LOAD
    ]


def load_problems(
    templates: list[tuple[dict, dict]], services: dict[str, dict], config_maps: dict[str, dict]
) -> list[tuple[str, str]]:
    """The load run's addresses (LOAD_ADDRESSES) dial their servers like UPSTREAMS does; over
    https it needs the office CA (FALLWERK_CA_FILE), which no web PKI root store holds."""
    servers = rendered_servers(templates)
    problems: list[tuple[str, str]] = []
    for w, _, c in load_containers(templates):
        https = False
        for name, server in LOAD_ADDRESSES.items():
            url = env_value(c, name, config_maps)
            if url is None:
                problems.append((ident(w), f"{name} is unset: the load would not reach {server}"))
            elif server not in servers:
                problems.append((ident(w), f"{name}={url}: {server} is not rendered"))
            else:
                found = dial_problems(url, server, servers, services, config_maps)
                problems += [(ident(w), f"{name}={url}: {problem}") for problem in found]
                https = https or url.startswith("https://")
        if https and env_value(c, "FALLWERK_CA_FILE", config_maps) is None:
            problems.append((ident(w), "https addresses without FALLWERK_CA_FILE: the office CA is in no root store"))
    return problems


def secret_names(pod: dict) -> set[str]:
    """The Secrets a pod reads, as volumes or single variables."""
    names = {v["secret"]["secretName"] for v in pod.get("volumes", []) if "secret" in v}
    for _, c in containers(pod):
        names |= {
            var["valueFrom"]["secretKeyRef"]["name"]
            for var in c.get("env", [])
            if "secretKeyRef" in (var.get("valueFrom") or {})
        }
        names |= {s["secretRef"]["name"] for s in c.get("envFrom", []) if "secretRef" in s}
    return names


def matches(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def reference_problems(objects: list[dict]) -> list[tuple[str, str]]:
    """Selectors, names and ports that must point at something in the same render."""
    problems: list[tuple[str, str]] = []
    by_kind: dict[str, dict[str, dict]] = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], {})[obj["metadata"]["name"]] = obj
    workloads = [o for o in objects if o["kind"] in WORKLOADS]
    templates = [(w, pod_template(w)) for w in workloads]
    job_templates = [(w, t) for w, t in templates if w["kind"] in JOBS]
    config_maps = by_kind.get("ConfigMap", {})
    config_data = {name: cm.get("data") or {} for name, cm in config_maps.items()}
    hpa_targets = {h["spec"]["scaleTargetRef"]["name"] for h in by_kind.get("HorizontalPodAutoscaler", {}).values()}

    def port_names(template: dict) -> set[str]:
        return {p["name"] for _, c in containers(template["spec"]) for p in c.get("ports", []) if "name" in p}

    for w, template in templates:
        labels = template["metadata"].get("labels") or {}
        selector = (w["spec"].get("selector") or {}).get("matchLabels") or {}
        if w["kind"] not in JOBS and not matches(selector, labels):
            problems.append((ident(w), "selector does not match its own pod template"))
        if w["kind"] not in JOBS:
            # A Job's pods under a Deployment's selector would count in its HPA's average
            # (the HPA scales by the Deployment's selector) and confuse its rollouts.
            for job, job_template in job_templates:
                if matches(selector, job_template["metadata"].get("labels") or {}):
                    problems.append((ident(w), f"selector also picks the pods of {ident(job)}"))
        if w["kind"] == "Deployment" and w["metadata"]["name"] in hpa_targets and "replicas" in w["spec"]:
            problems.append((ident(w), "sets spec.replicas although an HPA scales it"))
        names = port_names(template)
        for _, c in containers(template["spec"]):
            for source in c.get("envFrom", []):
                ref = source.get("configMapRef")
                if ref and ref["name"] not in config_maps:
                    problems.append((ident(w), f"envFrom ConfigMap {ref['name']} is not rendered"))
            for probe_name in ("startupProbe", "readinessProbe", "livenessProbe"):
                for handler in ("tcpSocket", "httpGet"):
                    port = ((c.get(probe_name) or {}).get(handler) or {}).get("port")
                    if isinstance(port, str) and port not in names:
                        problems.append((ident(w), f"{probe_name} names port {port}, which no container has"))
        services = services_run(template["spec"]) or {w["metadata"]["name"]}
        documented = SHARED_SECRETS | {f.format(svc) for svc in services for f in SERVICE_SECRETS}
        documented |= {f"{cluster}-ca" for cluster in by_kind.get("Cluster", {})}
        if LOAD in services:
            documented |= LOAD_SECRETS
        if is_database_setup(template):
            documented = {DB_ADMIN_SECRET} | {f.format(s) for s in rendered_servers(templates) for f in SERVICE_SECRETS}
        for secret in sorted(secret_names(template["spec"])):
            if secret not in documented:
                problems.append((ident(w), f"uses Secret {secret}, not one README.md names"))

    problems += upstream_problems(templates, by_kind.get("Service", {}), config_data)
    problems += load_problems(templates, by_kind.get("Service", {}), config_data)
    problems += database_setup_problems(templates, config_data)
    problems += cnpg_problems(by_kind, templates)

    for svc in by_kind.get("Service", {}).values():
        selected = [t for _, t in templates if matches(svc["spec"].get("selector") or {}, t["metadata"].get("labels") or {})]
        if not selected:
            problems.append((ident(svc), "selector matches no pod template"))
        for job, job_template in job_templates:
            if matches(svc["spec"].get("selector") or {}, job_template["metadata"].get("labels") or {}):
                problems.append((ident(svc), f"selector also picks the pods of {ident(job)}"))
        for port in svc["spec"].get("ports", []):
            target = port.get("targetPort")
            if isinstance(target, str) and not any(target in port_names(t) for t in selected):
                problems.append((ident(svc), f"targetPort {target} is no port of the selected pods"))
    for pdb in by_kind.get("PodDisruptionBudget", {}).values():
        selector = pdb["spec"]["selector"].get("matchLabels") or {}
        if not any(matches(selector, t["metadata"].get("labels") or {}) for _, t in templates):
            problems.append((ident(pdb), "selector matches no pod template"))
        for job, job_template in job_templates:
            if matches(selector, job_template["metadata"].get("labels") or {}):
                problems.append((ident(pdb), f"selector also picks the pods of {ident(job)}"))
    for hpa in by_kind.get("HorizontalPodAutoscaler", {}).values():
        ref = hpa["spec"]["scaleTargetRef"]
        if ref["name"] not in by_kind.get(ref["kind"], {}):
            problems.append((ident(hpa), f"scales {ref['kind']}/{ref['name']}, which is not rendered"))
        if hpa["spec"].get("minReplicas", 1) > hpa["spec"]["maxReplicas"]:
            problems.append((ident(hpa), "minReplicas above maxReplicas"))
    for policy in by_kind.get("NetworkPolicy", {}).values():
        selector = policy["spec"]["podSelector"].get("matchLabels") or {}
        selected = [t for _, t in templates if not selector or matches(selector, t["metadata"].get("labels") or {})]
        names = set().union(*(port_names(t) for t in selected)) if selected else set()
        for rule in policy["spec"].get("ingress", []):
            for port in rule.get("ports", []):
                if isinstance(port.get("port"), str) and port["port"] not in names:
                    problems.append((ident(policy), f"ingress names port {port['port']}, which no selected pod has"))
    problems += egress_problems(templates, list(by_kind.get("NetworkPolicy", {}).values()), config_data)
    problems += load_network_problems(templates, list(by_kind.get("NetworkPolicy", {}).values()))
    return problems


def is_database_setup(template: dict) -> bool:
    return (template.get("metadata") or {}).get("labels", {}).get("app.kubernetes.io/name") == DB_SETUP


def database_setup_problems(templates: list[tuple[dict, dict]], config_maps: dict[str, dict]) -> list[tuple[str, str]]:
    """The set-up Job covers every rendered service: it mounts both role Secrets of each, its
    password script reads them, and roles.sql names the service's schema."""
    problems: list[tuple[str, str]] = []
    servers = rendered_servers(templates)
    for w, template in templates:
        if not is_database_setup(template):
            continue
        pod = template["spec"]
        mounted = secret_names(pod)
        scripts: dict[str, str] = {}
        for volume in pod.get("volumes", []):
            name = (volume.get("configMap") or {}).get("name")
            if name in config_maps:
                scripts.update(config_maps[name])
        for file in ("roles.sql", "set-passwords.sql"):
            if file not in scripts:
                problems.append((ident(w), f"no ConfigMap volume provides {file}"))
        for service in sorted(servers):
            schema = SCHEMAS.get(service, service.replace("-", ""))
            if f"'{schema}'" not in scripts.get("roles.sql", ""):
                problems.append((ident(w), f"roles.sql does not name the schema {schema} of {service}"))
            for secret, role in ((OWNER_DB_SECRET, "owner"), (RUNTIME_DB_SECRET, "runtime")):
                secret = secret.format(service)
                if secret not in mounted:
                    problems.append((ident(w), f"does not mount {secret}: fallwerk_{schema}_{role} would get no password"))
                if f"/{secret}/password" not in scripts.get("set-passwords.sql", "") or f"'fallwerk_{schema}_{role}'" not in scripts.get("set-passwords.sql", ""):
                    problems.append((ident(w), f"set-passwords.sql does not set fallwerk_{schema}_{role}'s password from {secret}"))
    return problems


def custom_resource_problems(obj: dict) -> list[str]:
    """What can be checked of a custom resource without its CRD's schema: the top-level fields,
    and the spec fields fallwerk relies on, by kind."""
    problems = []
    extra = set(obj) - {"apiVersion", "kind", "metadata", "spec"}
    if extra:
        problems.append(f"fields {sorted(extra)} at the top level")
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", obj["metadata"].get("name") or ""):
        problems.append("metadata.name is no DNS label")
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return problems + ["no spec"]
    kind = obj["kind"]
    if kind == "Cluster":
        instances = spec.get("instances")
        if not isinstance(instances, int) or instances < 3:
            problems.append(f"spec.instances is {instances!r}: at least 3, to survive a node with a synchronous standby left")
        if not (spec.get("storage") or {}).get("size") and not (spec.get("storage") or {}).get("pvcTemplate"):
            problems.append("spec.storage has neither size nor pvcTemplate")
        sync = (spec.get("postgresql") or {}).get("synchronous") or {}
        if sync.get("method") not in {"any", "first"} or not isinstance(sync.get("number"), int) or sync["number"] < 1:
            problems.append("spec.postgresql.synchronous needs method any|first and number >= 1: without it a failover may lose acknowledged writes")
        elif isinstance(instances, int) and sync["number"] >= instances:
            problems.append("spec.postgresql.synchronous.number must stay below instances")
        if sync.get("dataDurability", "required") != "required":
            problems.append("spec.postgresql.synchronous.dataDurability is not required: writes would go on without a standby")
        if sync.get("failoverQuorum") is not True:
            problems.append("spec.postgresql.synchronous.failoverQuorum is not true: a failover could promote a standby without the last commits")
        if "monitoring" in spec and (spec["monitoring"] or {}).get("enablePodMonitor"):
            problems.append("spec.monitoring.enablePodMonitor is deprecated: a PodMonitor of its own instead")
        if "barmanObjectStore" in (spec.get("backup") or {}):
            problems.append("spec.backup.barmanObjectStore is deprecated: the Barman Cloud Plugin (spec.plugins) instead")
        for role in (spec.get("managed") or {}).get("roles") or []:
            if not role.get("name") or not (role.get("passwordSecret") or {}).get("name"):
                problems.append(f"managed role {role.get('name')!r} needs a name and a passwordSecret")
    elif kind == "Database":
        for key in ("name", "owner"):
            if not spec.get(key):
                problems.append(f"spec.{key} missing")
        if not (spec.get("cluster") or {}).get("name"):
            problems.append("spec.cluster.name missing")
    elif kind == "ScheduledBackup":
        if len(str(spec.get("schedule", "")).split()) != 6:
            problems.append(f"spec.schedule {spec.get('schedule')!r} is not six cron fields (seconds first)")
        if not (spec.get("cluster") or {}).get("name"):
            problems.append("spec.cluster.name missing")
        if spec.get("method") == "plugin" and not (spec.get("pluginConfiguration") or {}).get("name"):
            problems.append("method plugin without pluginConfiguration.name")
    elif kind == "ObjectStore":
        if not (spec.get("configuration") or {}).get("destinationPath"):
            problems.append("spec.configuration.destinationPath missing")
        policy = spec.get("retentionPolicy")
        if policy is not None and not re.fullmatch(r"[1-9][0-9]*[dwm]", str(policy)):
            problems.append(f"spec.retentionPolicy {policy!r} is not a number and d, w or m")
    elif kind == "PodMonitor":
        if not (spec.get("selector") or {}).get("matchLabels") and not (spec.get("selector") or {}).get("matchExpressions"):
            problems.append("spec.selector selects nothing")
        endpoints = spec.get("podMetricsEndpoints") or []
        if not endpoints or any(not e.get("port") for e in endpoints):
            problems.append("spec.podMetricsEndpoints needs at least one endpoint, each with a named port")
    return problems


def cnpg_problems(by_kind: dict[str, dict[str, dict]], templates: list[tuple[dict, dict]]) -> list[tuple[str, str]]:
    """CloudNativePG's resources point at each other and at fallwerk's Secrets: each service's
    two roles are managed with their Secrets as password, each schema belongs to its owner role,
    the backups and the PodMonitor name a rendered Cluster and its object store."""
    clusters = {n: o for n, o in by_kind.get("Cluster", {}).items() if o.get("apiVersion") == CNPG}
    if not clusters:
        return []
    problems: list[tuple[str, str]] = []
    servers = rendered_servers(templates)
    stores = by_kind.get("ObjectStore", {})
    for name, cluster in clusters.items():
        spec = cluster.get("spec") or {}
        managed = {r.get("name"): (r.get("passwordSecret") or {}).get("name") for r in (spec.get("managed") or {}).get("roles") or []}
        for service in sorted(servers):
            schema = SCHEMAS.get(service, service.replace("-", ""))
            for secret, role in ((OWNER_DB_SECRET, "owner"), (RUNTIME_DB_SECRET, "runtime")):
                if managed.get(f"fallwerk_{schema}_{role}") != secret.format(service):
                    problems.append((ident(cluster), f"managed role fallwerk_{schema}_{role} must take its password from Secret {secret.format(service)}"))
        for plugin in spec.get("plugins") or []:
            store = (plugin.get("parameters") or {}).get("barmanObjectName")
            if store and store not in stores:
                problems.append((ident(cluster), f"plugin {plugin.get('name')} names ObjectStore {store}, which is not rendered"))
        if not any((b.get("spec") or {}).get("cluster", {}).get("name") == name for b in by_kind.get("ScheduledBackup", {}).values()):
            problems.append((ident(cluster), "no ScheduledBackup: no base backups would be taken"))
        if not any(((m.get("spec") or {}).get("selector") or {}).get("matchLabels", {}).get("cnpg.io/cluster") == name for m in by_kind.get("PodMonitor", {}).values()):
            problems.append((ident(cluster), "no PodMonitor selects its instances (cnpg.io/cluster)"))
        if not any(
            selects(p["spec"].get("podSelector") or {}, {"cnpg.io/cluster": name}) and p["spec"].get("podSelector")
            for p in by_kind.get("NetworkPolicy", {}).values()
        ) and by_kind.get("NetworkPolicy"):
            problems.append((ident(cluster), "no network policy selects its instances: the namespace's default deny cuts them off"))
    for backup in by_kind.get("ScheduledBackup", {}).values():
        spec = backup.get("spec") or {}
        cluster = clusters.get((spec.get("cluster") or {}).get("name"))
        if cluster is None:
            problems.append((ident(backup), f"backs up Cluster {(spec.get('cluster') or {}).get('name')}, which is not rendered"))
        elif spec.get("method") == "plugin":
            plugin = (spec.get("pluginConfiguration") or {}).get("name")
            if plugin not in {p.get("name") for p in (cluster.get("spec") or {}).get("plugins") or []}:
                problems.append((ident(backup), f"uses plugin {plugin}, which its Cluster does not enable"))
    for database in by_kind.get("Database", {}).values():
        spec = database.get("spec") or {}
        cluster = clusters.get((spec.get("cluster") or {}).get("name"))
        if cluster is None:
            problems.append((ident(database), f"belongs to Cluster {(spec.get('cluster') or {}).get('name')}, which is not rendered"))
            continue
        schemas = {s.get("name"): s.get("owner") for s in spec.get("schemas") or []}
        for service in sorted(servers):
            schema = SCHEMAS.get(service, service.replace("-", ""))
            if schemas.get(schema) != f"fallwerk_{schema}_owner":
                problems.append((ident(database), f"schema {schema} must belong to fallwerk_{schema}_owner"))
    for monitor in by_kind.get("PodMonitor", {}).values():
        selected = ((monitor.get("spec") or {}).get("selector") or {}).get("matchLabels", {}).get("cnpg.io/cluster")
        if selected is not None and selected not in clusters:
            problems.append((ident(monitor), f"selects the instances of Cluster {selected}, which is not rendered"))
    return problems


def custom_resource_secrets(objects: list[dict]) -> set[str]:
    """The Secrets custom resources read: the managed roles' passwords, the backups' keys."""
    names: set[str] = set()
    for obj in objects:
        spec = obj.get("spec") or {}
        if obj["kind"] == "Cluster":
            names |= {(r.get("passwordSecret") or {}).get("name") for r in (spec.get("managed") or {}).get("roles") or []}
        if obj["kind"] == "ObjectStore":
            for key in ("accessKeyId", "secretAccessKey"):
                names.add((((spec.get("configuration") or {}).get("s3Credentials") or {}).get(key) or {}).get("name"))
    return names - {None}


def selects(selector: dict, labels: dict) -> bool:
    """Whether a NetworkPolicy's podSelector picks pods with these labels ({} picks all)."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        if (
            (operator == "In" and labels.get(key) not in values)
            or (operator == "NotIn" and key in labels and labels[key] in values)
            or (operator == "Exists" and key not in labels)
            or (operator == "DoesNotExist" and key in labels)
        ):
            return False
    return True


def port_allowed(rule: dict, port: int, protocol: str, name: str | None) -> bool:
    """Whether a NetworkPolicy rule's ports admit `port` (or the container port named `name`)."""
    if not rule.get("ports"):
        return True
    for p in rule["ports"]:
        number = p.get("port")
        if p.get("protocol", "TCP") == protocol and (
            number is None
            or (isinstance(number, int) and number <= port <= p.get("endPort", number))
            or (name is not None and number == name)
        ):
            return True
    return False


def policy_types(spec: dict) -> list[str]:
    """What a NetworkPolicy restricts: its policyTypes, or by default Ingress, and Egress if it
    has egress rules."""
    return spec.get("policyTypes") or (["Ingress", "Egress"] if "egress" in spec else ["Ingress"])


def egress_allows(policy: dict, port: int, protocol: str, name: str | None = None) -> bool:
    """Whether a NetworkPolicy lets its pods open connections to `port` (to some address), or
    to the container port named `name`."""
    spec = policy["spec"]
    if "Egress" not in policy_types(spec):
        return False
    return any(port_allowed(rule, port, protocol, name) for rule in spec.get("egress") or [])


def ingress_admits(policy: dict, labels: dict, port: int, name: str) -> bool:
    """Whether a NetworkPolicy lets a pod of the same namespace with `labels` connect to its
    pods' `port` (named `name`)."""
    for rule in policy["spec"].get("ingress") or []:
        peers = rule.get("from")
        from_pod = not peers or any(
            "podSelector" in peer and "namespaceSelector" not in peer and "ipBlock" not in peer
            and selects(peer["podSelector"], labels)
            for peer in peers
        )
        if from_pod and port_allowed(rule, port, "TCP", name):
            return True
    return False


def load_network_problems(templates: list[tuple[dict, dict]], policies: list[dict]) -> list[tuple[str, str]]:
    """Where network policies apply, the load run's pods may reach DNS and every server's gRPC
    port, and each server's pods accept them there."""
    if not policies:
        return []
    problems: list[tuple[str, str]] = []
    servers = rendered_servers(templates)
    for w, template, _ in load_containers(templates):
        labels = template["metadata"].get("labels") or {}
        selecting = [p for p in policies if selects(p["spec"].get("podSelector") or {}, labels)]
        if not any(egress_allows(p, 53, "UDP") for p in selecting):
            problems.append((ident(w), "no network policy lets its pods reach DNS (53/UDP)"))
        for server, (server_template, c) in sorted(servers.items()):
            grpc = next((p["containerPort"] for p in c.get("ports", []) if p.get("name") == "grpc"), None)
            if grpc is None:
                continue
            if not any(egress_allows(p, grpc, "TCP", "grpc") for p in selecting):
                problems.append((ident(w), f"no network policy lets its pods reach {server}'s gRPC port ({grpc})"))
            server_labels = server_template["metadata"].get("labels") or {}
            guarding = [
                p
                for p in policies
                if "Ingress" in policy_types(p["spec"]) and selects(p["spec"].get("podSelector") or {}, server_labels)
            ]
            if guarding and not any(ingress_admits(p, labels, grpc, "grpc") for p in guarding):
                problems.append((ident(w), f"no network policy lets {server}'s pods accept its pods on gRPC ({grpc})"))
    return problems


def egress_problems(
    templates: list[tuple[dict, dict]], policies: list[dict], config_maps: dict[str, dict]
) -> list[tuple[str, str]]:
    """Where network policies apply, the pods that use the database (a DATABASE_URL_FILES
    setting) may reach DNS and PostgreSQL (5432): the servers, the retention runs and the
    database set-up alike."""
    if not policies:
        return []
    problems: list[tuple[str, str]] = []
    for w, template in templates:
        if not any(set(DATABASE_URL_FILES) & env_names(c, config_maps) for _, c in containers(template["spec"])):
            continue
        labels = template["metadata"].get("labels") or {}
        selecting = [p for p in policies if selects(p["spec"].get("podSelector") or {}, labels)]
        for port, protocol, what in ((53, "UDP", "DNS"), (5432, "TCP", "PostgreSQL")):
            if not any(egress_allows(p, port, protocol) for p in selecting):
                problems.append((ident(w), f"no network policy lets its pods reach {what} ({port}/{protocol})"))
    return problems


def check(target: str, namespace: str | None, command: list[str], renders: dict[str, list[dict]]) -> int:
    """Checks one target, prints what it found, returns the number of problems. A target in
    ALONGSIDE has its references checked together with the cluster it adds to. Keeps what it
    rendered in `renders`, for checkov."""
    try:
        objects = render(command, target)
        cluster = render(command, ALONGSIDE[target]) if target in ALONGSIDE else []
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        also = f" or {ALONGSIDE[target]}, which it adds to" if target in ALONGSIDE else ""
        print(f"FAIL {target}: kustomize could not render it{also}:")
        for line in str(error).splitlines():
            print(f"       {line}")
        return 1
    renders[target] = objects
    problems: list[tuple[str, str]] = []
    config_maps = {o["metadata"]["name"]: o.get("data") or {} for o in objects if o["kind"] == "ConfigMap"}
    for obj in objects:
        custom = (obj.get("apiVersion"), obj.get("kind")) in CUSTOM_KINDS
        found = custom_resource_problems(obj) if custom else schema_problems(obj)
        found += label_problems(obj) + namespace_problems(obj, namespace)
        if obj["kind"] == "Secret":
            found.append("a Secret in the manifests: secrets are created in the cluster, never committed")
        if obj["kind"] in WORKLOADS:
            found += pod_problems(obj, config_maps)
        problems += [(ident(obj), p) for p in found]
    if cluster:
        # The cluster's own problems are its target's to report; only those the addition brings.
        known = set(reference_problems(cluster))
        problems += [p for p in reference_problems(cluster + objects) if p not in known]
    else:
        problems += reference_problems(objects)
    servers = rendered_servers([(w, pod_template(w)) for w in cluster + objects if w["kind"] in WORKLOADS])
    documented = {f.format(s) for s in servers for f in (RUNTIME_DB_SECRET, OWNER_DB_SECRET)} | CNPG_BACKUP_SECRETS
    for name in sorted(custom_resource_secrets(objects) - documented):
        problems.append(("custom resources", f"read Secret {name}, not one README.md names"))

    kinds = ", ".join(sorted({ident(o) for o in objects}))
    secrets = set().union(*(secret_names(pod_template(o)["spec"]) for o in objects if o["kind"] in WORKLOADS))
    secrets |= custom_resource_secrets(objects)
    status = "ok  " if not problems else "FAIL"
    beside = f", checked alongside {ALONGSIDE[target]}" if target in ALONGSIDE else ""
    custom = sorted({o["kind"] for o in objects if (o.get("apiVersion"), o.get("kind")) in CUSTOM_KINDS})
    print(f"{status} {target}: {len(objects)} objects ({kinds}){beside}")
    if custom:
        print(f"       Custom resources ({', '.join(custom)}): no schema here, checked structurally only")
    print(f"       Secrets it expects in the cluster: {', '.join(sorted(secrets)) or 'none'}")
    for where, problem in problems:
        print(f"       {where}: {problem}")
    return len(problems)


def checkov_problems(renders: dict[str, list[dict]]) -> int:
    """Runs checkov's Kubernetes checks over each overlay's render (one process per overlay, at
    once; offline: --skip-download fetches no guidelines or policies) and prints per overlay its
    passed, failed and skipped checks, each skip with the reason its annotation gives. A target in
    ALONGSIDE is scanned together with the cluster it adds to (so its pods meet their network
    policies), and only its own objects' results count. Returns the number of failed checks,
    plus one when checkov cannot run."""
    checkov = Path(sys.executable).parent / "checkov"
    if not checkov.exists():
        print(f"FAIL checkov: {checkov} is missing; `make deploy-check` installs checkov=={CHECKOV_VERSION} "
              "(or run validate.py --no-checkov)")
        return 1
    version = subprocess.run([str(checkov), "--version"], capture_output=True, text=True).stdout.strip()
    if version != CHECKOV_VERSION:
        # Another version has other checks, and the counts README.md gives would not hold.
        print(f"FAIL checkov: version {version or '(unknown)'} in {checkov.parent}, expected {CHECKOV_VERSION} "
              f"(pip install 'checkov=={CHECKOV_VERSION}')")
        return 1
    targets = [t for t in renders if t != "base"]
    with tempfile.TemporaryDirectory(prefix="fallwerk-checkov-") as tmp:
        running = {}
        for target in targets:
            objects = renders.get(ALONGSIDE.get(target, ""), []) + renders[target]
            path = Path(tmp) / (target.replace("/", "_") + ".yaml")
            path.write_text(yaml.safe_dump_all(objects, sort_keys=False))
            running[target] = subprocess.Popen(
                [str(checkov), "--file", str(path), "--framework", "kubernetes", "--skip-download",
                 "--output", "json", "--compact"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
        failed = 0
        print(f"checkov {version} (Kubernetes checks) over every overlay's render:")
        for target, process in running.items():
            out, err = process.communicate(timeout=300)
            try:
                report = json.loads(out)
            except json.JSONDecodeError:
                print(f"FAIL checkov {target}: no report (exit code {process.returncode}):")
                for line in (err or out).strip().splitlines()[-10:]:
                    print(f"       {line}")
                failed += 1
                continue
            results = report.get("results", {}) if isinstance(report, dict) else {}
            own = {(o["metadata"].get("namespace"), o["metadata"]["name"]) for o in renders[target]}

            def counted(check: dict) -> bool:
                # Resource ids are Kind.namespace.name (a Pod's then its labels).
                parts = check["resource"].split(".")
                return target not in ALONGSIDE or (len(parts) >= 3 and (parts[1], parts[2]) in own)

            passed = [c for c in results.get("passed_checks", []) if counted(c)]
            failures = [c for c in results.get("failed_checks", []) if counted(c)]
            skipped = [c for c in results.get("skipped_checks", []) if counted(c)]
            errors = results.get("parsing_errors", [])
            status = "ok  " if not failures and not errors else "FAIL"
            beside = f" (scanned with {ALONGSIDE[target]}, counting its own objects)" if target in ALONGSIDE else ""
            print(f"{status} checkov {target}{beside}: {len(passed)} passed, {len(failures)} failed, {len(skipped)} skipped")
            reasons: dict[tuple[str, str], int] = {}
            for c in skipped:
                key = (c["check_id"], (c.get("check_result") or {}).get("suppress_comment") or "no reason given")
                reasons[key] = reasons.get(key, 0) + 1
            for (check_id, reason), count in sorted(reasons.items()):
                print(f"       skipped {check_id} x{count}: {reason}")
            for c in failures:
                print(f"       FAILED {c['check_id']} {c['check_name']}: {c['resource']}")
            for e in errors:
                print(f"       could not parse {e}")
            failed += len(failures) + len(errors)
        return failed


def main() -> int:
    command = renderer()
    use_checkov = "--no-checkov" not in sys.argv[1:]
    print(f"Rendering with `{' '.join(command)}`; schema: Kubernetes {K8S_VERSION} (strict), "
          f"kubernetes-validate {kubernetes_validate.__version__}")
    print("Checks (Deployments', Jobs' and CronJobs' pods): schema (custom resources structurally), "
          "restricted Pod Security, requests/limits, one handler per probe, no gRPC liveness, "
          "preStop + drain < grace period, selectors/ports/ConfigMaps/HPA targets resolve, *_FILE settings "
          "mounted, no Secret in env, owner role for migrate and runtime role otherwise, UPSTREAMS and load "
          "addresses resolve, RETENTION_* periods, CronJobs Forbid/deadlines/timeZone, Job pods outside "
          "server selectors, DNS + PostgreSQL egress, load run's way to the servers, database set-up covers "
          "every service, CloudNativePG resources reference each other, labels, namespace, no Secret objects"
          + ("; then checkov" if use_checkov else "; checkov left out (--no-checkov)"))
    renders: dict[str, list[dict]] = {}
    total = sum(check(target, namespace, command, renders) for target, namespace in TARGETS.items())
    if use_checkov:
        total += checkov_problems(renders)
    if total:
        print(f"{total} problem(s)")
        return 1
    print(f"all {len(TARGETS)} targets valid" + (", checkov: no failed check" if use_checkov else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
