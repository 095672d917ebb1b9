"""The results store: one JSONL line per finished sample, its pre-scan and repair on resume,
and the `.meta.json` manifest that says which run owns a file. Imports only `core`.
"""
