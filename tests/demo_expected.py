"""What ``include.demo.seed`` (default arguments) makes the pipeline produce: exact counts for the DAG tests.

The seeded input is fixed (scenario list, generator seeds, publisher formats, the redelivery seed and the malformed
bodies are constants), so every count downstream is exact. ``tests/unit/test_demo_expected.py`` derives each number
below without the emulator or Airflow (``demo.seed`` against recording fake clients, then decoding, grouping and
resolution in process, then the targets' pure builders) and fails if one drifts; the DAG tests then check that the
real pipeline (SQS, S3, the Airflow tasks and the three targets) lands exactly that.
"""

from __future__ import annotations

# 15 scenarios, one execution each (launch_plan_child is a parent and a child: 16 executions once resolved)
SEEDED_EXECUTIONS = 15
EXECUTIONS = 16
# 425 distinct events; duplicate_deliveries(seed=7, redelivery_rate=0.1, exact_rate=0.05) makes 488 deliveries, and
# 4 malformed bodies are added: 492 messages. The drain stores every valid delivery (deduplication is grouping's job).
DISTINCT_EVENTS = 425
EVENTS_DELIVERED = 488
MALFORMED = 4
MESSAGES = EVENTS_DELIVERED + MALFORMED
# DataHub: 71 run instances and 28 datasets (also what the reviewed tests/golden/executions give: these do not depend
# on the publisher format), 8 flows and 30 jobs (these do: a cloudevents_v2 execution names its flow and jobs from
# what the v2 event carries), and the ``flyte`` platform that push_datahub describes once.
DATAHUB_ENTITIES = {"dataFlow": 8, "dataJob": 30, "dataPlatform": 1, "dataProcessInstance": 71, "dataset": 28}
# Glue: one table per dataset produced by a successful, non-cached task node; all in the allowlisted data bucket.
# A list output (split's o0, a map task's gathered outputs) is one dataset and one partitioned table.
GLUE_TABLES = 24
# typed_outputs' dataclass holds a plain FlyteFile of CSV (no declared format): no Glue table, a skip reason.
GLUE_SKIPPED = 1
# OpenLineage: one START and one terminal event per run (a workflow or node attempt), 40 jobs, 67 datasets linked to
# their Glue table by a symlink facet.
OPENLINEAGE_EVENTS = {"START": 73, "COMPLETE": 67, "FAIL": 4, "ABORT": 2}
OPENLINEAGE_RUNS = 73
OPENLINEAGE_JOBS = 40
OPENLINEAGE_LINKED_TO_GLUE = 67
