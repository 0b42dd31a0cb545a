#!/usr/bin/env python3
"""Checks app.json (Heroku): every setting of the seed's configuration block is declared with a description,
API_KEY is generated, HOST listens on every interface. Usage: check-app-json.py app.json"""
import json
import sys

SEED = ["NODE_ENV", "NODE_TYPE", "NODE_TIER", "REGION", "TOKEN_BALANCE", "DHT_ENABLED", "DHT_REFRESH_INTERVAL",
        "METRICS_UPDATE_INTERVAL", "HEALTH_CHECK_INTERVAL", "BOOTSTRAP_NODES", "MIN_CPU_CORES", "MIN_MEMORY_GB",
        "MIN_STORAGE_GB", "GPU_REQUIRED", "MAX_CONCURRENT_TASKS", "TASK_TIMEOUT", "RESULT_RETENTION_PERIOD"]
app = json.load(open(sys.argv[1]))
env = app.get("env", {})
missing = [key for key in SEED if not env.get(key, {}).get("description")]
if missing:
    sys.exit(f"app.json declares no description for {', '.join(missing)}")
if env.get("API_KEY", {}).get("generator") != "secret":
    sys.exit("app.json does not generate API_KEY")
if env.get("HOST", {}).get("value") != "0.0.0.0":
    sys.exit("app.json does not set HOST=0.0.0.0 (Heroku routes to PORT on every interface)")
print("ok")
