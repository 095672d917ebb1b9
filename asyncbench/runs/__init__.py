"""A run: one split through one provider, wired from a source, the engine, a provider
client, the results store and the reporting. Imports every stage below it; nothing but
the CLI imports it.
"""
