"""`relaygate import new-api|one-api`: a new-api or one-api database moved into relaygate.

Read-only on the source. Users, tokens (their keys keep working), channels, prices and group
ratios, unused redemption codes and optionally consume logs are imported kind by kind, one
transaction each, through the domain services; `import_map` remembers what became what, so a
second run adds nothing.
"""
