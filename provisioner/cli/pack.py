"""A directory of Terraform code -> the deploy request's ``files`` and ``variables``.

Within the API's limits (``core.requests``), so that what the service would refuse is
reported here, file by file, before anything is sent.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hcl2.api import loads as parse_hcl

from core.hcl.config import META_KEYS
from core.requests import MAX_CODE_BYTES, MAX_FILES, MAX_VARIABLES_BYTES, check_relative_path

CONFIG_SUFFIXES = (".tf", ".tf.json")
# terraform loads these from the root module by itself; they become variables, never files, since
# the service keeps variables out of the workspace bucket.
AUTO_VARIABLE_FILES = re.compile(r"^(terraform\.tfvars|.+\.auto\.tfvars)(\.json)?$")
# The API refuses control characters other than tab and line breaks: binary content.
_BINARY = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


class PackError(Exception):
    """The path cannot be deployed as given (a usage error: nothing was sent)."""


@dataclass
class Package:
    files: dict[str, str] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (relative path, why)
    variable_files: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(len(text.encode()) for text in self.files.values())


def _walk(root: Path) -> Iterable[Path]:
    """Every file under root, in a stable order; hidden directories (``.terraform``, ``.git``) pruned."""
    for directory, subdirectories, names in os.walk(root):
        subdirectories[:] = sorted(d for d in subdirectories if not d.startswith("."))
        for name in sorted(names):
            yield Path(directory) / name


def _read_text(path: Path, relative: str) -> str:
    """The file's text; PackError or ValueError (the reason) when the API would refuse it."""
    check_relative_path(relative)
    size = path.stat().st_size
    if size > MAX_CODE_BYTES:
        raise PackError(f"{size:,} bytes, over the API's {MAX_CODE_BYTES // (1024 * 1024)} MiB code limit")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PackError("not UTF-8 text") from exc
    if _BINARY.search(text):
        raise PackError("binary content")
    return text


def pack(path: Path, include: Sequence[str] = ()) -> Package:
    """Pack a directory (modules in sub-directories included) or one ``.tf`` file.

    ``include`` adds files by glob, relative to the directory (templates read with ``file()``,
    say). Hidden files and directories are never sent.
    """
    package = Package()
    if path.is_file():
        if not path.name.endswith(CONFIG_SUFFIXES):
            raise PackError(f"{path}: not a .tf or .tf.json file")
        candidates: list[tuple[Path, str]] = [(path, path.name)]
    elif path.is_dir():
        extra = {p.resolve() for pattern in include for p in path.glob(pattern) if p.is_file()}
        candidates = []
        for file in _walk(path):
            relative = file.relative_to(path).as_posix()
            if file.name.startswith("."):
                continue
            if "/" not in relative and AUTO_VARIABLE_FILES.match(file.name):
                package.variable_files.append(relative)
            elif file.name.endswith(CONFIG_SUFFIXES) or file.resolve() in extra:
                candidates.append((file, relative))
    else:
        raise PackError(f"{path}: no such file or directory")
    package.variable_files.sort(key=_variable_file_order)
    for relative in package.variable_files:
        package.variables.update(load_variable_file(path / relative))
    for file, relative in candidates:
        try:
            text = _read_text(file, relative)
        except (PackError, ValueError) as exc:
            package.skipped.append((relative, str(exc)))
            continue
        except OSError as exc:
            package.skipped.append((relative, exc.strerror or str(exc)))
            continue
        package.files[relative] = text
    _check_limits(path, package)
    return package


def _variable_file_order(name: str) -> tuple[bool, str]:
    """terraform.tfvars, terraform.tfvars.json, then the *.auto.* files by name: terraform's order."""
    return (not name.startswith("terraform.tfvars"), name)


def _check_limits(path: Path, package: Package) -> None:
    if not any(name.endswith(CONFIG_SUFFIXES) and "/" not in name for name in package.files):
        raise PackError(f"{path}: no .tf or .tf.json file at the top level to deploy")
    if len(package.files) > MAX_FILES:
        raise PackError(f"{path}: {len(package.files)} files; the API takes at most {MAX_FILES}")
    if package.size > MAX_CODE_BYTES:
        raise PackError(
            f"{path}: {package.size:,} bytes of code; the API takes at most {MAX_CODE_BYTES:,} bytes"
        )


def load_variable_file(path: Path) -> dict[str, Any]:
    """A ``.tfvars`` (HCL) or ``.tfvars.json`` file as a mapping of variable values."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PackError(f"{path}: cannot read it ({exc})") from exc
    try:
        document = json.loads(text) if path.name.endswith(".json") else parse_hcl(text)
    except Exception as exc:  # python-hcl2 raises lark's many exception types
        raise PackError(f"{path}: not a valid variables file ({type(exc).__name__}: {exc})") from exc
    if not isinstance(document, dict):
        raise PackError(f"{path}: expected name = value pairs")
    return {str(k): v for k, v in document.items() if k not in META_KEYS}


def parse_assignment(text: str) -> tuple[str, Any]:
    """``--var name=value``: the value is a string, as with terraform's ``-var``, except that a list
    or map (``[...]``, ``{...}``) is read as HCL, JSON included."""
    name, equals, value = text.partition("=")
    name = name.strip()
    if not equals or not name:
        raise PackError(f"--var {text!r}: expected name=value")
    if value.lstrip().startswith(("[", "{")):
        try:
            return name, parse_hcl(f"value = {value}\n")["value"]
        except Exception as exc:  # python-hcl2 raises lark's many exception types
            raise PackError(f"--var {name}: the value is not a valid list or map ({exc})") from exc
    return name, value


def merge_variables(
    package: Package, variable_files: Sequence[Path], assignments: Sequence[str]
) -> dict[str, Any]:
    """terraform's precedence: auto-loaded files, then ``--var-file`` in order, then ``--var``."""
    variables = dict(package.variables)
    for file in variable_files:
        variables.update(load_variable_file(file))
    for assignment in assignments:
        name, value = parse_assignment(assignment)
        variables[name] = value
    if len(json.dumps(variables)) > MAX_VARIABLES_BYTES:
        raise PackError(f"the variables are over the API's {MAX_VARIABLES_BYTES // 1024} KiB limit")
    return variables
