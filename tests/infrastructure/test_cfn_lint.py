"""cfn-lint on the synthesized templates (run as its command: it ships no type information)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.infrastructure.conftest import Synth

# W3005: CDK writes DependsOn on a role it also references with GetAtt; redundant, never wrong.
IGNORED = ("W3005",)


def test_templates_are_clean(synth: Synth, cognito_synth: Synth, apikey_synth: Synth) -> None:
    paths = []
    for variant in (synth, cognito_synth, apikey_synth):
        path = variant.outdir / "lint.template.json"
        path.write_text(json.dumps(variant.document))
        paths.append(str(path))
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("cfn-lint")),
            "--format",
            "parseable",
            "--regions",
            "us-east-1",
            "eu-west-1",
            "--ignore-checks",
            *IGNORED,
            "--",
            *paths,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.stdout == ""
    assert result.returncode == 0, result.stderr
