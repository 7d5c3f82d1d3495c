"""flytelineage: FlyteAdmin execution events to lineage in DataHub and tables in the AWS Glue Data Catalog.

The package is layered: ``domain`` is pure (data in, data out), ``hooks`` are thin adapters over one external system
each, and ``operators`` orchestrate the two inside Airflow tasks. Nothing heavy is imported here.
"""

from __future__ import annotations

__version__ = "0.1.0"
