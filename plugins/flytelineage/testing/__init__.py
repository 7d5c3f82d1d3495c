"""Test support, used by the tests, the benchmarks and the demo, never by domain, hooks, operators or the CLI.

- the Flyte event generator (``flyte_event_generator`` is its public API; scenarios, publisher formats, LiteralMaps,
  Parquet samples);
- ``lineage_samples``: hand-built resolved executions for the target tests;
- ``in_memory_objects``: an ``ObjectReader`` over a dict, standing in for S3;
- ``fake_gms``: a fake DataHub GMS on 127.0.0.1.
"""
