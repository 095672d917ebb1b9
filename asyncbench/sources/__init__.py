"""Where samples come from: the streaming `datasets` loader (hub id or local hub-layout
folder), the dataset-viewer pager for `--use_url`, audio preparation, and the local hub-layout
writer that tests and the demo build data with. Imports only `core`.
"""
