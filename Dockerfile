# flyte-lineage on the official Airflow 3.3 image (Python 3.11), running as the image's non-root user.
FROM apache/airflow:3.3.2-python3.11

COPY --chown=airflow:root requirements.txt /opt/flyte-lineage/requirements.txt
RUN pip install --no-cache-dir -r /opt/flyte-lineage/requirements.txt

COPY --chown=airflow:root pyproject.toml README.md /opt/flyte-lineage/
COPY --chown=airflow:root plugins/ /opt/flyte-lineage/plugins/
RUN pip install --no-cache-dir --no-deps /opt/flyte-lineage

COPY --chown=airflow:root dags/ /opt/airflow/dags/
COPY --chown=airflow:root plugins/ /opt/airflow/plugins/
COPY --chown=airflow:root include/ /opt/airflow/include/

USER 50000
