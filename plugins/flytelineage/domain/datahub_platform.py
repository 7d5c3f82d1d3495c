"""The ``dataPlatformInfo`` of ``urn:li:dataPlatform:flyte``, so DataHub shows Flyte as a platform (pure).

DataHub knows its built-in platforms; ``flyte`` is not one, so without this aspect flows, jobs and datasets on it
show a generic platform. ``push_datahub`` sends it once per task run (an idempotent upsert).
"""

from __future__ import annotations

from datahub.emitter.mce_builder import make_data_platform_urn
from datahub.emitter.mcp import MetadataChangeProposalWrapper
from datahub.metadata.schema_classes import DataPlatformInfoClass

PLATFORM = "flyte"


def platform_info_mcp(
    *, display_name: str = "Flyte", platform_type: str = "OTHERS", delimiter: str = ".", logo_url: str | None = None
) -> MetadataChangeProposalWrapper:
    """The upsert describing the Flyte platform (``platform_type`` is a DataHub ``PlatformType`` name)."""
    info = DataPlatformInfoClass(
        name=PLATFORM,
        displayName=display_name,
        type=platform_type,
        datasetNameDelimiter=delimiter,
        logoUrl=logo_url or None,
    )
    return MetadataChangeProposalWrapper(entityUrn=make_data_platform_urn(PLATFORM), aspect=info)
