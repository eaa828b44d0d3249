"""Checks of one pod template: probes, labels, Jobs, Secrets in the environment, the database
role each container connects as, retention periods, mounted files."""

from __future__ import annotations

from pathlib import Path

from k8s_common import (
    DIR_FILES,
    LOAD,
    OWNER_DB_SECRET,
    POD_LABELS,
    PROBE_HANDLERS,
    RETENTION_PERIOD,
    RUNTIME_DB_SECRET,
    SCHEMAS,
    SERVE_ONLY_FILES,
    containers,
    env_names,
    env_value,
    job_spec,
    mounted_secret,
    pod_template,
    services_run,
    subcommand,
)


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
