#!/usr/bin/env bash
# `make prometheus-check`: what an operator watches, checked without a cluster.
#
#   1. promtool check rules / test rules on deploy/k8s/components/observability/prometheus
#      (rules.yaml and its unit tests rules.test.yaml), and promtool check config on the scrape
#      configuration (prometheus.yaml) with the rules beside it as the ConfigMap holds them;
#   2. the rules and the Grafana dashboard name only metrics the services export (found in
#      crates/ and services/ by their metrics::counter!/gauge!/histogram! calls), recording
#      rules of rules.yaml, or the few external ones listed below; every alert has a severity,
#      a summary, a description and its runbook anchor, and a test that makes it fire and one
#      that keeps it quiet;
#   3. the OpenTelemetry collector's configuration against itself, its Deployment and Service,
#      and the endpoint the servers send to (no collector binary is available here);
#   4. the component renders (kubectl kustomize) with the three ConfigMaps holding the files.
#
# promtool comes from Debian's `prometheus` package, installed when missing (as root). The
# package would start a Prometheus on :9090; the install forbids that (policy-rc.d) and stops
# whatever it started anyway. Exits non-zero on any failure. `--install-only` installs the
# package when missing and checks nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."

OBS=deploy/k8s/components/observability

ensure_promtool() {
    command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 && return 0
    echo "prometheus-check: promtool or prometheus not found; installing Debian's prometheus package" >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "prometheus-check: run as root, or install the 'prometheus' package yourself" >&2
        exit 1
    fi
    local before added_policy=""
    before=$(pgrep -x prometheus || true)
    # No daemon from the package's maintainer scripts (invoke-rc.d asks policy-rc.d first).
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        added_policy=yes
    fi
    export DEBIAN_FRONTEND=noninteractive
    local status=0
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus; } >&2 || status=$?
    [ -n "$added_policy" ] && rm -f /usr/sbin/policy-rc.d
    # Whatever the package started all the same: stop it, by its process id.
    local pid
    for pid in $(pgrep -x prometheus || true); do
        if ! grep -qx "$pid" <<<"$before"; then
            echo "prometheus-check: stopping the prometheus daemon the package started (pid $pid)" >&2
            kill "$pid" 2>/dev/null || true
        fi
    done
    [ "$status" -eq 0 ] || { echo "prometheus-check: installing prometheus failed" >&2; exit 1; }
    command -v promtool >/dev/null 2>&1 || { echo "prometheus-check: the package brought no promtool" >&2; exit 1; }
}

ensure_promtool
# prometheus-live-test.sh uses this script to install the package and nothing else.
[ "${1:-}" = "--install-only" ] && exit 0
failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

echo "== promtool $(promtool --version 2>&1 | head -n1 | awk '{print $3}')"
if promtool check rules "$OBS/prometheus/rules.yaml"; then echo "ok   promtool check rules"; else fail "promtool check rules"; fi
if (cd "$OBS/prometheus" && promtool test rules rules.test.yaml); then echo "ok   promtool test rules"; else fail "promtool test rules"; fi

# The scrape configuration with the rules beside it under the ConfigMap's key names. Debian's
# build of Prometheus leaves out Kubernetes service discovery (its client libraries are not
# packaged): then the scrape job is checked with static targets in place of it.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$OBS/prometheus/prometheus.yaml" "$work/prometheus.yaml"
cp "$OBS/prometheus/rules.yaml" "$work/fallwerk.rules.yaml"
if promtool check config "$work/prometheus.yaml" >"$work/config.out" 2>&1; then
    echo "ok   promtool check config (prometheus.yaml with fallwerk.rules.yaml)"
elif grep -q "kubernetes_sd_configs not found" "$work/config.out"; then
    python3 - "$work/prometheus.yaml" <<'PY'
import sys, yaml
path = sys.argv[1]
config = yaml.safe_load(open(path))
for job in config["scrape_configs"]:
    if job.pop("kubernetes_sd_configs", None) is not None:
        job["static_configs"] = [{"targets": ["127.0.0.1:9101"]}]
yaml.safe_dump(config, open(path, "w"))
PY
    if promtool check config "$work/prometheus.yaml" >"$work/config.out" 2>&1; then
        echo "ok   promtool check config (prometheus.yaml with fallwerk.rules.yaml; this promtool has no" \
            "Kubernetes discovery, so the job was checked with static targets in its place)"
    else
        cat "$work/config.out"
        fail "promtool check config"
    fi
else
    cat "$work/config.out"
    fail "promtool check config"
fi

echo "== rules, dashboard and collector against the code"
python3 - "$OBS" <<'PY' || failures=$((failures + 1))
import json, re, sys
from pathlib import Path

import yaml

obs = Path(sys.argv[1])
problems = []

def problem(text):
    problems.append(text)
    print(f"FAIL {text}")

# --- The metrics the services export -------------------------------------------------------
exported = set()
call = re.compile(r'metrics::(counter|gauge|histogram)!\(\s*"([A-Za-z_:][A-Za-z0-9_:]*)"')
for root in ("crates", "services"):
    for path in Path(root).rglob("*.rs"):
        for kind, name in call.findall(path.read_text()):
            exported.add(name)
            if kind == "histogram":
                exported |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
if not exported:
    problem("no metrics::counter!/gauge!/histogram! call found under crates/ and services/")
# Not the services': Prometheus' own, and kube-state-metrics' (readiness in a cluster).
EXTERNAL = {"up", "kube_deployment_status_replicas_unavailable", "kube_job_status_failed"}

rules = yaml.safe_load((obs / "prometheus/rules.yaml").read_text())
recorded = {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}
alerts = [r for g in rules["groups"] for r in g["rules"] if "alert" in r]
known = exported | recorded | EXTERNAL

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
            "bool", "offset", "inf", "nan", "Inf", "NaN"}

def metric_names(expr):
    """The metric names a PromQL expression selects (best effort, no parser)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)   # strings
    e = re.sub(r"\$\{[^}]*\}|\$\w+", "", e)                            # Grafana variables
    e = re.sub(r"\{[^}]*\}", "", e)                                     # label matchers
    e = re.sub(r"\[[^\]]*\]", "", e)                                    # ranges, subqueries
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"(?<![\w.:])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?", e):
        word, is_call = m.group(1), m.group(2)
        if is_call or word in KEYWORDS:
            continue
        names.add(word)
    return names

for group in rules["groups"]:
    for rule in group["rules"]:
        what = rule.get("record") or rule.get("alert")
        for name in sorted(metric_names(rule["expr"]) - known):
            problem(f"rules.yaml {what}: metric {name} is exported by no service, recorded by no rule")

# --- Every alert: severity, annotations, runbook anchor, a firing and a quiet test ----------
tests = yaml.safe_load((obs / "prometheus/rules.test.yaml").read_text())
fires, quiet = set(), set()
for case in tests["tests"]:
    for t in case.get("alert_rule_test", []):
        (fires if t.get("exp_alerts") else quiet).add(t["alertname"])
anchors = []
for alert in alerts:
    name = alert["alert"]
    if alert.get("labels", {}).get("severity") not in {"critical", "warning", "info"}:
        problem(f"alert {name}: severity label is not critical, warning or info")
    annotations = alert.get("annotations", {})
    for key in ("summary", "description", "runbook_url"):
        if not annotations.get(key):
            problem(f"alert {name}: no {key} annotation")
    anchor = f"alert-{name.lower()}"
    anchors.append(anchor)
    if annotations.get("runbook_url") != f"docs/operations.md#{anchor}":
        problem(f"alert {name}: runbook_url is not docs/operations.md#{anchor}")
    if name not in fires:
        problem(f"alert {name}: no test in rules.test.yaml makes it fire")
    if name not in quiet:
        problem(f"alert {name}: no test in rules.test.yaml expects it quiet")
print(f"ok   {len(alerts)} alerts, {len(recorded)} recording rules; metric names known to the code "
      f"({len(exported)} exported series names)")
print("     runbook anchors: " + ", ".join(f"#{a}" for a in anchors))

# Every alert's runbook_url leads to a section of the runbook.
runbook = Path("docs/operations.md")
text = runbook.read_text() if runbook.exists() else ""
slugs = {re.sub(r"[^a-z0-9 _-]", "", h.strip().lower()).replace(" ", "-")
         for h in re.findall(r"^#+\s+(.*)$", text, re.M)}
slugs |= set(re.findall(r'(?:id|name)="([^"]+)"', text))
for anchor in anchors:
    if anchor not in slugs:
        problem(f"docs/operations.md has no section #{anchor}")

# --- The dashboard ----------------------------------------------------------------------
try:
    board = json.loads((obs / "grafana/fallwerk.json").read_text())
except ValueError as error:
    problem(f"grafana/fallwerk.json does not parse: {error}")
    board = None
if board is not None:
    if not board.get("uid") or not board.get("title"):
        problem("dashboard: no uid or title")
    variables = {v["name"] for v in board.get("templating", {}).get("list", [])}
    exprs = []
    for panel in board.get("panels", []):
        for sub in [panel, *panel.get("panels", [])]:
            for target in sub.get("targets", []):
                exprs.append((sub.get("title"), target.get("expr", "")))
    for v in board.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v.get("query")
            q = q.get("query", "") if isinstance(q, dict) else q
            exprs.append((f"variable {v['name']}", re.sub(r"^label_values\((.*),\s*\w+\)$", r"\1", q)))
    ids = [p.get("id") for p in board.get("panels", [])]
    if len(ids) != len(set(ids)):
        problem("dashboard: panel ids repeat")
    for title, expr in exprs:
        if not expr:
            problem(f"dashboard panel {title!r}: a target without expr")
        for var in re.findall(r"\$(\w+)", expr):
            if not var.startswith("__") and var not in variables:
                problem(f"dashboard panel {title!r}: ${var} is no variable of the dashboard")
        for name in sorted(metric_names(expr) - known):
            problem(f"dashboard panel {title!r}: metric {name} is exported by no service, recorded by no rule")
    used = set().union(*(metric_names(e) for _, e in exprs)) if exprs else set()
    print(f"ok   dashboard {board.get('uid')}: {len(exprs)} queries, {len(used)} metric names, all known")
    unshown = sorted(recorded - used - set().union(*(metric_names(r["expr"]) for g in rules["groups"] for r in g["rules"])))
    if unshown:
        print(f"note recording rules neither charted nor alerted on: {', '.join(unshown)}")

# --- The OpenTelemetry collector ---------------------------------------------------------
config = yaml.safe_load((obs / "otel-collector/config.yaml").read_text())
manifests = {(d["kind"], d["metadata"]["name"]): d
             for d in yaml.safe_load_all((obs / "otel-collector/deployment.yaml").read_text()) if d}
SECTIONS = ("receivers", "processors", "exporters", "extensions", "connectors")
# The core distribution's components (otel/opentelemetry-collector), by type.
CORE = {
    "receivers": {"otlp", "nop"},
    "processors": {"batch", "memory_limiter"},
    "exporters": {"otlp", "otlphttp", "debug", "nop"},
    "extensions": {"health_check", "zpages", "pprof", "memory_limiter"},
    "connectors": {"forward"},
}
for key in config:
    if key not in (*SECTIONS, "service"):
        problem(f"collector: unknown top-level section {key}")
defined = {s: set(config.get(s) or {}) for s in SECTIONS}
for section, names in defined.items():
    for name in names:
        if name.split("/")[0] not in CORE[section]:
            problem(f"collector: {section[:-1]} {name} is not in the core distribution")
service = config.get("service") or {}
pipelines = service.get("pipelines") or {}
if not pipelines:
    problem("collector: no pipeline")
used = {s: set() for s in SECTIONS}
for ext in service.get("extensions") or []:
    used["extensions"].add(ext)
    if ext not in defined["extensions"]:
        problem(f"collector: service.extensions names {ext}, which is not defined")
for pname, pipeline in pipelines.items():
    if pname.split("/")[0] not in {"traces", "metrics", "logs"}:
        problem(f"collector: pipeline {pname} is no traces, metrics or logs pipeline")
    for role in ("receivers", "processors", "exporters"):
        for name in pipeline.get(role) or []:
            section = role if name in defined[role] or name not in defined["connectors"] else "connectors"
            used[section].add(name)
            if name not in defined[role] and name not in defined["connectors"]:
                problem(f"collector: pipeline {pname} names {role[:-1]} {name}, which is not defined")
    for role in ("receivers", "exporters"):
        if not pipeline.get(role):
            problem(f"collector: pipeline {pname} has no {role}")
    procs = [p.split("/")[0] for p in pipeline.get("processors") or []]
    if "memory_limiter" in procs and procs[0] != "memory_limiter":
        problem(f"collector: pipeline {pname}: memory_limiter is not the first processor")
    if "memory_limiter" not in procs:
        problem(f"collector: pipeline {pname} has no memory_limiter")
    if "batch" not in procs:
        problem(f"collector: pipeline {pname} has no batch processor")
for section in SECTIONS:
    for name in sorted(defined[section] - used[section]):
        problem(f"collector: {section[:-1]} {name} is defined but in no pipeline")

# The servers' endpoint (telemetry.yaml) -> the Service -> the container port -> the receiver.
patch = yaml.safe_load((obs / "telemetry.yaml").read_text())
endpoint = next((e["value"] for c in patch["spec"]["template"]["spec"]["containers"]
                 for e in c.get("env", []) if e["name"] == "OTEL_EXPORTER_OTLP_ENDPOINT"), None)
m = re.fullmatch(r"http://([^:/]+):(\d+)/?", endpoint or "")
if not m:
    problem(f"collector: the servers' OTEL_EXPORTER_OTLP_ENDPOINT {endpoint!r} is no http://host:port")
else:
    host, port = m.group(1), int(m.group(2))
    svc = manifests.get(("Service", host))
    deploy = manifests.get(("Deployment", "otel-collector"))
    if not svc:
        problem(f"collector: the servers send to {host}, and no Service of that name is in otel-collector/deployment.yaml")
    elif not deploy:
        problem("collector: no Deployment otel-collector")
    else:
        pod = deploy["spec"]["template"]
        if any(pod["metadata"]["labels"].get(k) != v for k, v in svc["spec"]["selector"].items()):
            problem("collector: Service otel-collector does not select the collector's pods")
        container = pod["spec"]["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
        sport = next((p for p in svc["spec"]["ports"] if p["port"] == port), None)
        if not sport:
            problem(f"collector: Service {host} has no port {port}")
        else:
            target = sport.get("targetPort", port)
            target = ports.get(target) if isinstance(target, str) else target
            grpc = ((((config.get("receivers") or {}).get("otlp") or {}).get("protocols") or {}).get("grpc") or {})
            listen = grpc.get("endpoint", "")
            lhost, _, lport = listen.rpartition(":")
            if not listen:
                problem("collector: the otlp receiver's grpc endpoint is not set (the default listens on localhost only)")
            elif lhost in {"localhost", "127.0.0.1", "::1", "[::1]"}:
                problem(f"collector: the otlp receiver listens on {listen}, which no other pod reaches")
            elif int(lport) != target:
                problem(f"collector: the servers reach container port {target}, the otlp receiver listens on {lport}")
            else:
                print(f"ok   collector: servers -> {endpoint} -> Service {host}:{port} -> container port {target}"
                      f" -> otlp receiver {listen}")
        # The configuration file the container is given is the ConfigMap's key, mounted.
        args = " ".join(container.get("args", []))
        cfg = re.search(r"--config[= ](\S+)", args)
        mount = next((vm for vm in container.get("volumeMounts", []) if cfg and cfg.group(1).startswith(vm["mountPath"].rstrip("/") + "/")), None)
        volume = next((v for v in pod["spec"].get("volumes", []) if mount and v["name"] == mount["name"]), None)
        kustomization = yaml.safe_load((obs / "kustomization.yaml").read_text())
        generated = {g["name"]: g for g in kustomization.get("configMapGenerator", [])}
        cm = (volume or {}).get("configMap", {}).get("name")
        key = cfg.group(1)[len(mount["mountPath"].rstrip("/")) + 1:] if mount else None
        files = [f.split("=", 1) for f in generated.get(cm, {}).get("files", [])]
        if not cfg or not mount or not volume or cm not in generated:
            problem("collector: --config does not name a file of a mounted, generated ConfigMap")
        elif [key, "otel-collector/config.yaml"] not in files:
            problem(f"collector: ConfigMap {cm} has no key {key} from otel-collector/config.yaml")
        # Health check port = the probes' port.
        health = ((config.get("extensions") or {}).get("health_check") or {}).get("endpoint", "")
        hhost, _, hport = health.rpartition(":")
        for probe in ("readinessProbe", "livenessProbe"):
            p = (container.get(probe) or {}).get("httpGet", {}).get("port")
            p = ports.get(p) if isinstance(p, str) else p
            if not health or hhost in {"localhost", "127.0.0.1"} or str(p) != hport:
                problem(f"collector: {probe} asks port {p}, health_check listens on {health or 'its default (localhost)'}")
        # Every ${env:X} in the configuration is set in the container.
        env = {e["name"] for e in container.get("env", [])}
        for var in re.findall(r"\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}", (obs / "otel-collector/config.yaml").read_text()):
            if var not in env:
                problem(f"collector: the configuration reads ${{env:{var}}}, which the Deployment does not set")
if not any(p.startswith("collector") for p in problems):
    print(f"ok   collector: pipelines {', '.join(pipelines)}; every component defined, used and in the core distribution")

sys.exit(1 if problems else 0)
PY

echo "== the component rendered"
if command -v kustomize >/dev/null 2>&1; then render=(kustomize build); elif command -v kubectl >/dev/null 2>&1; then render=(kubectl kustomize); else render=(); fi
if [ ${#render[@]} -eq 0 ]; then
    echo "skip neither kustomize nor kubectl on PATH: the render is checked by make deploy-check elsewhere"
elif "${render[@]}" deploy/k8s/overlays/production >"$work/production.yaml" 2>"$work/render.err"; then
    python3 - "$work/production.yaml" "$OBS" <<'PY' || failures=$((failures + 1))
import sys, yaml
from pathlib import Path
objects = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
obs = Path(sys.argv[2])
want = {
    "fallwerk-prometheus": {"fallwerk.rules.yaml": "prometheus/rules.yaml", "prometheus.yaml": "prometheus/prometheus.yaml"},
    "fallwerk-grafana-dashboard": {"fallwerk.json": "grafana/fallwerk.json"},
    "otel-collector-config": {"config.yaml": "otel-collector/config.yaml"},
}
bad = 0
for name, keys in want.items():
    found = [o for o in objects if o["kind"] == "ConfigMap" and (o["metadata"]["name"] == name or o["metadata"]["name"].startswith(name + "-"))]
    if len(found) != 1:
        print(f"FAIL production overlay: {len(found)} ConfigMaps {name}"); bad += 1; continue
    data = found[0].get("data") or {}
    for key, path in keys.items():
        if data.get(key) != (obs / path).read_text():
            print(f"FAIL production overlay: ConfigMap {name} key {key} is not {path}"); bad += 1
dash = next((o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "fallwerk-grafana-dashboard"), None)
if dash and dash["metadata"].get("labels", {}).get("grafana_dashboard") != "1":
    print('FAIL production overlay: the dashboard ConfigMap is not labelled grafana_dashboard: "1"'); bad += 1
for kind, name in (("Deployment", "otel-collector"), ("Service", "otel-collector"), ("NetworkPolicy", "otel-collector")):
    if not any(o["kind"] == kind and o["metadata"]["name"] == name for o in objects):
        print(f"FAIL production overlay: no {kind}/{name}"); bad += 1
if not bad:
    print("ok   production overlay renders the collector and the ConfigMaps fallwerk-prometheus, "
          "fallwerk-grafana-dashboard (grafana_dashboard: \"1\") and otel-collector-config with these files")
sys.exit(1 if bad else 0)
PY
else
    cat "$work/render.err"
    fail "kustomize could not render deploy/k8s/overlays/production"
fi

if [ "$failures" -ne 0 ]; then
    echo "prometheus-check: $failures check(s) failed"
    exit 1
fi
echo "prometheus-check: all checks passed"
