"""What ``include.demo.seed`` (default arguments) makes the pipeline produce: exact counts for the DAG tests.

The seeded input is fixed (scenario list, generator seeds, publisher formats, the redelivery seed and the malformed
bodies are constants), so every count downstream is exact. ``tests/unit/test_demo_expected.py`` derives each number
below without the emulator or Airflow (``demo.seed`` against recording fake clients, then decoding, grouping and
resolution in process, then the targets' pure builders) and fails if one drifts; the DAG tests then check that the
real pipeline (SQS, S3, the Airflow tasks and the three targets) lands exactly that.
"""

from __future__ import annotations

# 14 scenarios, one execution each (launch_plan_child is a parent and a child: 15 executions once resolved)
SEEDED_EXECUTIONS = 14
EXECUTIONS = 15
# 401 distinct events; duplicate_deliveries(seed=7, redelivery_rate=0.1, exact_rate=0.05) makes 462 deliveries, and
# 4 malformed bodies are added: 466 messages. The drain stores every valid delivery (deduplication is grouping's job).
DISTINCT_EVENTS = 401
EVENTS_DELIVERED = 462
MALFORMED = 4
MESSAGES = EVENTS_DELIVERED + MALFORMED
# DataHub: 67 run instances and 20 datasets (also what the reviewed tests/golden/executions give: these do not depend
# on the publisher format), 7 flows and 27 jobs (these do: a cloudevents_v2 execution names its flow and jobs from
# what the v2 event carries), and the ``flyte`` platform that push_datahub describes once.
DATAHUB_ENTITIES = {"dataFlow": 7, "dataJob": 27, "dataPlatform": 1, "dataProcessInstance": 67, "dataset": 20}
# Glue: one table per dataset produced by a successful, non-cached task node; all in the allowlisted data bucket.
# A list output (split's o0, a map task's gathered outputs) is one dataset and one partitioned table.
GLUE_TABLES = 17
# OpenLineage: one START and one terminal event per run (a workflow or node attempt), 36 jobs, 59 datasets linked to
# their Glue table by a symlink facet.
OPENLINEAGE_EVENTS = {"START": 69, "COMPLETE": 63, "FAIL": 4, "ABORT": 2}
OPENLINEAGE_RUNS = 69
OPENLINEAGE_JOBS = 36
OPENLINEAGE_LINKED_TO_GLUE = 59
