"""Variable files in a submitted workspace: terraform loads ``terraform.tfvars`` and ``*.auto.tfvars``
(and their ``.json`` forms) by itself. The service lifts them out of the code so their values, often
secrets, are kept with the variables (Secrets Manager) and never in the workspace bucket."""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping
from typing import Any

from hcl2.api import loads as parse_hcl
from lark.exceptions import UnexpectedInput

from core.hcl.config import META_KEYS

TFVARS_SUFFIXES = (".tfvars", ".tfvars.json")


class VariableFileError(ValueError):
    """A variable file the service cannot take: not auto-loaded, not literal, or not parseable."""


def is_variable_file(path: str) -> bool:
    return path.endswith(TFVARS_SUFFIXES)


def _load_order(path: str) -> tuple[int, str]:
    """terraform.tfvars, terraform.tfvars.json, then *.auto.tfvars(.json) in lexical order."""
    name = posixpath.basename(path)
    if name == "terraform.tfvars":
        return (0, name)
    if name == "terraform.tfvars.json":
        return (1, name)
    return (2, name)


def split_variable_files(files: Mapping[str, str]) -> tuple[dict[str, str], dict[str, Any]]:
    """(the code without its variable files, the variables they set, merged as terraform merges them)."""
    code: dict[str, str] = {}
    variable_files: list[str] = []
    for path, text in files.items():
        if not is_variable_file(path):
            code[path] = text
            continue
        name = posixpath.basename(path)
        auto = name in ("terraform.tfvars", "terraform.tfvars.json") or name.endswith(
            (".auto.tfvars", ".auto.tfvars.json")
        )
        if "/" in path or not auto:
            raise VariableFileError(
                f"{path}: terraform would not load this file; give its values in 'variables' "
                "(only top-level terraform.tfvars and *.auto.tfvars are read)"
            )
        variable_files.append(path)
    merged: dict[str, Any] = {}
    for path in sorted(variable_files, key=_load_order):
        merged.update(_parse(path, files[path]))
    return code, merged


def _parse(path: str, text: str) -> dict[str, Any]:
    if path.endswith(".json"):
        try:
            values = json.loads(text)
        except ValueError as exc:
            raise VariableFileError(f"{path}: not valid JSON ({exc})") from exc
        if not isinstance(values, dict):
            raise VariableFileError(f"{path}: must hold a JSON object")
        return values
    try:
        document = parse_hcl(text)
    except (UnexpectedInput, ValueError) as exc:
        raise VariableFileError(f"{path}: not valid HCL ({str(exc).splitlines()[0]})") from exc
    values = {k: v for k, v in document.items() if k not in META_KEYS}
    if "${" in json.dumps(values):
        raise VariableFileError(f"{path}: variable files may hold literal values only, not expressions")
    return values
