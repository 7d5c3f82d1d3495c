"""Runtime loops over injected I/O: threads and a clock, but no Airflow, no AWS SDK and no hooks.

The queue, the object store and the clock are passed in as small protocols, so the operators (with the Amazon
provider's hooks), the tests (with in-memory fakes or the emulator) and the benchmarks drive the same code.
"""
