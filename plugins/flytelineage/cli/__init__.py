"""The ``flytelineage`` command: configuration migration, quarantine handling, body decoding and one-off runs.

It keeps the predecessor's traitlets interface (``--help-all``, ``--show-config``, ``--log-level``,
``--FlyteLineage.<option>=…`` and a ``flytelineage_config.py`` file) and sits above the operators, hooks and domain:
nothing in those layers imports it (an import-linter contract checks this).
"""
