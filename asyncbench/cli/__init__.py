"""The command line: `app` registers every command (`run`, `batch`, `sweep`, `demo`, and the
stages' own `score`, `serve`, `mock`, `report`); `run` holds the run options that `batch` and
`sweep` derive theirs from. Imports every stage; nothing imports it.
"""
