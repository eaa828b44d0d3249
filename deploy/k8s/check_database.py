"""Checks of the database side: the first-time set-up Job, the custom resources, and the
CloudNativePG option's Cluster, Database, backups and monitoring."""

from __future__ import annotations

import re

from k8s_common import (
    CNPG,
    DB_SETUP,
    OWNER_DB_SECRET,
    RUNTIME_DB_SECRET,
    SCHEMAS,
    ident,
    rendered_servers,
    secret_names,
    selects,
)


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
