"""Local servers that speak the wire protocols: `serve` (a real offline recogniser behind
Aldea's protocol) and `mock` (strict mocks of every provider and of the dataset viewer).
Imports `core` and `sources` only: a server never depends on the client it is tested with.
"""
