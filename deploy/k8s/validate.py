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

The checks live beside this file by concern: k8s_common.py (the constants and ways to read a
rendered pod), check_pods.py (one pod template), check_wiring.py (across objects: references,
UPSTREAMS, the load run, network policies), check_database.py (the set-up Job, custom
resources, CloudNativePG).

Runs offline. Needs `kubernetes-validate`, `PyYAML` and `checkov` (see README.md) and kubectl
or kustomize on PATH; `--no-checkov` leaves step 4 out. Exits 1 on any problem, 2 when it
cannot run at all.
"""

from __future__ import annotations

import json
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

from check_database import custom_resource_problems, custom_resource_secrets
from check_pods import pod_problems
from check_wiring import reference_problems
from k8s_common import (
    ALONGSIDE,
    CHECKOV_VERSION,
    CLUSTER_SCOPED,
    CNPG_BACKUP_SECRETS,
    CUSTOM_KINDS,
    HERE,
    K8S_VERSION,
    OWNER_DB_SECRET,
    RUNTIME_DB_SECRET,
    TARGETS,
    WORKLOADS,
    ident,
    pod_template,
    rendered_servers,
    secret_names,
)


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
