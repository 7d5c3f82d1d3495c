"""Test support: the Flyte event generator (`flytelineage.testing.flyte_event_generator` is the public API)."""
