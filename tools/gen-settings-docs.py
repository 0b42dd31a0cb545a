#!/usr/bin/env python3
"""Regenerates .env.example and the key tables of docs/CONFIGURATION.md from SettingCatalog.cs.
Run after adding a setting: python3 tools/gen-settings-docs.py (a test checks both files list every key)."""
import pathlib, re
root = pathlib.Path(__file__).resolve().parent.parent
src = (root / "src/Tenzro.Node.Core/Configuration/SettingCatalog.cs").read_text()
entries = re.findall(r'new\("([A-Z0-9_]+)", "([^"]*)", "([A-Za-z]+)", "((?:[^"\\]|\\.)*)"\)', src)
env = ["# Tenzro Local Node settings. Every key is optional: the values shown are the embedded defaults.",
       "# Precedence: command line (--set KEY=VALUE) > environment > this file > defaults.",
       "# Intervals are milliseconds; TASK_TIMEOUT and RESULT_RETENTION_PERIOD are seconds.", ""]
tables, group = [], None
for key, default, g, desc in entries:
    if g != group:
        env.append(f"# --- {g} ---")
        tables += ["", f"## {g}", "", "| key | default | meaning |", "| --- | --- | --- |"]
        group = g
    env += [f"# {desc}", f"{key}={default}"]
    tables.append(f"| `{key}` | {'`' + default + '`' if default else '(empty)'} | {desc} |")
(root / ".env.example").write_text("\n".join(env) + "\n")
doc_path = root / "docs/CONFIGURATION.md"
doc = doc_path.read_text()
first_group = "\n## " + entries[0][2] + "\n"
doc_path.write_text(doc[:doc.index(first_group)] + "\n".join(tables) + "\n")
