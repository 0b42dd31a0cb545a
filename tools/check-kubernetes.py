#!/usr/bin/env python3
"""Checks the Kubernetes manifest against the Kubernetes API's object schema (the models of the official
Python client, Debian's python3-kubernetes: every field known, required fields present, values of the
declared types), then for what the node needs: a StatefulSet whose container probes the split health
endpoints (liveness /health/live, readiness /health/ready), keeps DATA_DIR on a volume claim, runs as a
non-root user and takes API_KEY from a secret. Usage: check-kubernetes.py MANIFEST.yaml"""
import json
import sys
import yaml

try:
    import kubernetes.client
except ImportError:
    sys.exit("the Kubernetes schema check needs the kubernetes Python client: apt-get install python3-kubernetes")

def fail(message):
    sys.exit(f"{sys.argv[1]}: {message}")

documents = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
for document in documents:
    for key in ("apiVersion", "kind", "metadata"):
        if key not in document:
            fail(f"a document has no {key}")
class _Response:
    def __init__(self, document):
        self.data = json.dumps(document)


def unknown_fields(given, known, path):
    """Fields of the manifest that the schema's model dropped: misspelt or misplaced keys."""
    if isinstance(given, dict) and isinstance(known, dict):
        for key, value in given.items():
            if key not in known:
                yield f"{path}.{key}"
            else:
                yield from unknown_fields(value, known[key], f"{path}.{key}")
    elif isinstance(given, list) and isinstance(known, list):
        for index, (a, b) in enumerate(zip(given, known)):
            yield from unknown_fields(a, b, f"{path}[{index}]")


api = kubernetes.client.ApiClient()
for document in documents:
    model = "V1" + document["kind"]
    if not hasattr(kubernetes.client, model) or document["apiVersion"] not in ("v1", "apps/v1"):
        fail(f"{document['apiVersion']} {document['kind']} is not a v1 or apps/v1 kind this check knows")
    try:
        parsed = api.deserialize(_Response(document), model)
    except (ValueError, TypeError) as error:
        fail(f"{document['kind']} {document['metadata'].get('name')}: {error}")
    lost = list(unknown_fields(document, api.sanitize_for_serialization(parsed), document["kind"]))
    if lost:
        fail(f"fields the Kubernetes schema does not have: {', '.join(lost)}")

sets = [d for d in documents if d["kind"] == "StatefulSet"]
if len(sets) != 1 or sets[0]["apiVersion"] != "apps/v1":
    fail("expected one apps/v1 StatefulSet")
spec = sets[0]["spec"]
if spec["selector"]["matchLabels"].items() - spec["template"]["metadata"]["labels"].items():
    fail("the selector does not match the pod template's labels")
pod = spec["template"]["spec"]
if not pod.get("securityContext", {}).get("runAsNonRoot"):
    fail("the pod does not run as non-root")
container = pod["containers"][0]
ports = {p["name"]: p["containerPort"] for p in container["ports"]}
def probe(name, path):
    get = container.get(name, {}).get("httpGet") or fail(f"no {name} httpGet")
    if get["path"] != path or ports.get(get["port"], get["port"]) != 8080:
        fail(f"{name} should probe {path} on the HTTP port 8080")
probe("livenessProbe", "/health/live")
probe("readinessProbe", "/health/ready")
env = {e["name"]: e for e in container.get("env", [])}
if env.get("DATA_DIR", {}).get("value") != "/data":
    fail("DATA_DIR is not /data")
if "secretKeyRef" not in env.get("API_KEY", {}).get("valueFrom", {}):
    fail("API_KEY does not come from a secret")
claims = {c["metadata"]["name"] for c in spec.get("volumeClaimTemplates", [])}
mounts = {m["name"]: m["mountPath"] for m in container.get("volumeMounts", [])}
if not any(mounts.get(claim) == "/data" for claim in claims):
    fail("no volume claim template is mounted at /data")
print("ok")
