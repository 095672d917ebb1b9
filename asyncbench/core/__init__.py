"""Shared ground every stage stands on: error kinds, secret redaction, retry/backoff
policy, pacing, endpoint-list parsing and shard hashing. Standard library only; imports no
other asyncbench package.
"""
