"""Checks across objects: every reference resolves (ConfigMaps, Secrets, Services, HPA
targets), the services' UPSTREAMS and the load run reach what they name, and the network
policies let that traffic through."""

from __future__ import annotations

from k8s_common import (
    DATABASE_URL_FILES,
    DB_ADMIN_SECRET,
    JOBS,
    LOAD,
    LOAD_ADDRESSES,
    LOAD_SECRETS,
    SERVICE_SECRETS,
    SHARED_SECRETS,
    WORKLOADS,
    containers,
    env_names,
    env_value,
    ident,
    load_containers,
    matches,
    pod_template,
    policy_types,
    port_allowed,
    rendered_servers,
    secret_names,
    selects,
    services_run,
)
from check_database import cnpg_problems, database_setup_problems, is_database_setup


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
