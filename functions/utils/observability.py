"""Logger, Tracer and Metrics, created once for every handler; CDK names them through env vars."""

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "TerraformProvisioner"))
