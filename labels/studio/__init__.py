"""Label Studio integration: connection, labelling config, push (clauses -> tasks) and pull (export).

Import the submodules directly; only `connection` needs label-studio-sdk, and it imports it lazily.
"""
