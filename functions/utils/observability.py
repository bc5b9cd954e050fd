"""Logger, Tracer and Metrics, created once for every handler; CDK names them through env vars."""

import os
import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "TerraformProvisioner"))

# Reads add no business metrics by design; Powertools' documented way to keep its per-invocation
# "No application metrics to publish" warning out of the logs.
warnings.filterwarnings("ignore", "No application metrics to publish*")
