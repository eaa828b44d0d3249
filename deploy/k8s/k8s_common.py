"""Constants and helpers every check of validate.py shares: the targets, the Secrets and
settings fallwerk expects, and ways to read a rendered pod (its containers, environment,
mounts, selectors)."""

from __future__ import annotations

import re
from pathlib import Path


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


def ident(obj: dict) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


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


def containers(pod: dict) -> list[tuple[str, dict]]:
    return [("initContainer", c) for c in pod.get("initContainers", [])] + [
        ("container", c) for c in pod.get("containers", [])
    ]


def services_run(pod: dict) -> set[str]:
    """The fallwerk services whose binaries a pod's containers run (`/usr/local/bin/intake`)."""
    return {Path(c["command"][0]).name for _, c in containers(pod) if c.get("command")}


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


def env_names(c: dict, config_maps: dict[str, dict]) -> set[str]:
    """The variables a container gets from `env` and from ConfigMaps in `envFrom`."""
    names = {v["name"] for v in c.get("env", [])}
    for source in c.get("envFrom", []):
        ref = source.get("configMapRef")
        if ref:
            names |= set(config_maps.get(ref["name"], {}))
    return names


def mounted_secret(c: dict, pod: dict, path: str) -> str | None:
    """The Secret a file path of the container comes from, if a Secret volume provides it."""
    mounts = [m for m in c.get("volumeMounts", []) if path.startswith(m["mountPath"].rstrip("/") + "/")]
    if not mounts:
        return None
    mount = max(mounts, key=lambda m: len(m["mountPath"]))
    volume = next((v for v in pod.get("volumes", []) if v["name"] == mount["name"]), {})
    return (volume.get("secret") or {}).get("secretName")


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


def rendered_servers(templates: list[tuple[dict, dict]]) -> dict[str, tuple[dict, dict]]:
    """The rendered fallwerk servers by Deployment name: their pod template and `server`
    container."""

    def server(template: dict) -> dict | None:
        return next((c for c in template["spec"].get("containers", []) if c["name"] == "server"), None)

    return {w["metadata"]["name"]: (t, server(t)) for w, t in templates if w["kind"] == "Deployment" and server(t)}


def load_containers(templates: list[tuple[dict, dict]]) -> list[tuple[dict, dict, dict]]:
    """The containers that run the load generator, with their workload and pod template."""
    return [
        (w, t, c)
        for w, t in templates
        for _, c in containers(t["spec"])
        if c.get("command") and Path(c["command"][0]).name == LOAD
    ]


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
