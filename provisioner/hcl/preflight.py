"""Refuse constructs that would let submitted code escape the service's control.

The service owns the backend, the credentials and the machine terraform runs on, so code may not
bring its own backend, provider credentials or endpoints, read files outside its workspace, or
(unless the install allows it) run commands through provisioners or the ``external`` data source.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass

from provisioner.hcl.config import Block, Configuration, Finding, iter_strings, nested_blocks

EXEC_PROVISIONERS = ("local-exec", "remote-exec", "file")
PROVIDER_CREDENTIAL_ATTRIBUTES = (
    "access_key",
    "secret_key",
    "token",
    "profile",
    "shared_credentials_file",
    "shared_credentials_files",
    "shared_config_files",
    "custom_ca_bundle",
)
PROVIDER_ROLE_BLOCKS = ("assume_role", "assume_role_with_web_identity")
FILE_WRITING_RESOURCES = ("local_file", "local_sensitive_file")
FILE_FUNCTIONS = (
    "file",
    "fileexists",
    "fileset",
    "filebase64",
    "filemd5",
    "filesha1",
    "filesha256",
    "filesha512",
    "filebase64sha256",
    "filebase64sha512",
    "templatefile",
)
_FILE_CALL = re.compile(r"\b(" + "|".join(FILE_FUNCTIONS) + r")\s*\(\s*")
_PATH_PREFIX = re.compile(r"^\$\{\s*path\.(module|root|cwd)\s*\}/?")


@dataclass(frozen=True)
class PreflightPolicy:
    """What an install allows. Command execution is off unless the operator turns it on."""

    allow_exec: bool = False


def preflight(configuration: Configuration, policy: PreflightPolicy | None = None) -> list[Finding]:
    """Every refused construct in the configuration, in file and line order."""
    policy = policy or PreflightPolicy()
    findings: list[Finding] = []
    for block in configuration.blocks():
        if block.kind == "terraform":
            findings += _check_terraform_block(configuration, block)
        elif block.kind in ("resource", "data"):
            findings += _check_resource(configuration, block, policy)
        elif block.kind == "provider":
            findings += _check_provider(configuration, block)
        elif block.kind == "module":
            findings += _check_module_source(configuration, block)
        findings += _check_file_functions(configuration, block)
    return sorted(findings, key=lambda f: (f.file or "", f.line or 0, f.code))


def _finding(configuration: Configuration, block: Block, code: str, message: str, pattern: str) -> Finding:
    return Finding("preflight", code, message, block.file, configuration.locate(block, pattern))


def _check_terraform_block(configuration: Configuration, block: Block) -> Iterator[Finding]:
    for kind, _body in nested_blocks(block.body, "backend", labelled=True):
        yield _finding(
            configuration,
            block,
            "backend_block",
            f'a "backend" block ({kind}) is not allowed: the service stores state itself',
            r"\bbackend\b",
        )
    for _label, _body in nested_blocks(block.body, "cloud"):
        yield _finding(
            configuration,
            block,
            "cloud_block",
            'a "cloud" block is not allowed: the service stores state itself',
            r"\bcloud\b",
        )


def _check_resource(configuration: Configuration, block: Block, policy: PreflightPolicy) -> Iterator[Finding]:
    address = ".".join(block.labels) if block.kind == "resource" else "data." + ".".join(block.labels)
    if block.kind == "resource" and block.labels[:1] and block.labels[0] in FILE_WRITING_RESOURCES:
        yield from _check_written_path(configuration, block, address)
    if block.kind == "data" and block.labels[:1] == ("external",) and not policy.allow_exec:
        yield _finding(
            configuration,
            block,
            "external_data_source",
            f'the "external" data source ({address}) runs commands and is not allowed on this install',
            r"\bdata\b.*\bexternal\b",
        )
    if policy.allow_exec:
        return
    for kind, _body in nested_blocks(block.body, "provisioner", labelled=True):
        if kind in EXEC_PROVISIONERS:
            yield _finding(
                configuration,
                block,
                f"{(kind or '').replace('-', '_')}_provisioner",
                f'the "{kind}" provisioner in {address} is not allowed on this install',
                rf"\bprovisioner\s+\"{re.escape(kind or '')}\"",
            )


def _check_written_path(configuration: Configuration, block: Block, address: str) -> Iterator[Finding]:
    """Files written on the runner must stay inside the workspace, like files read."""
    filename = block.body.get("filename")
    if not isinstance(filename, str):
        return
    path = _PATH_PREFIX.sub("", filename)
    if "${" in path or "%{" in path:
        yield _finding(
            configuration,
            block,
            "dynamic_file_path",
            f"{address} writes to a path built from variables, which could leave the workspace",
            r"\bfilename\b",
        )
    elif _escapes(_module_dir(block.file), path or "."):
        yield _finding(
            configuration,
            block,
            "path_outside_workspace",
            f'{address} writes "{filename}", outside the workspace',
            r"\bfilename\b",
        )


def _check_provider(configuration: Configuration, block: Block) -> Iterator[Finding]:
    name = block.labels[0] if block.labels else "?"
    for attribute in PROVIDER_CREDENTIAL_ATTRIBUTES:
        if attribute in block.body:
            yield _finding(
                configuration,
                block,
                "provider_credentials",
                f'provider "{name}" sets "{attribute}": credentials come from the service, not the code',
                rf"\b{attribute}\b",
            )
    if "endpoints" in block.body:
        yield _finding(
            configuration,
            block,
            "provider_endpoints",
            f'provider "{name}" sets "endpoints": the service decides where providers connect',
            r"\bendpoints\b",
        )
    for role_block in PROVIDER_ROLE_BLOCKS:
        if role_block in block.body:
            yield _finding(
                configuration,
                block,
                "provider_assume_role",
                f'provider "{name}" sets "{role_block}": the service assumes the install\'s deploy role',
                rf"\b{role_block}\b",
            )


def _module_dir(file: str) -> str:
    return posixpath.dirname(file)


def _escapes(base_dir: str, relative: str) -> bool:
    """Whether a path, taken relative to a directory of the workspace, leaves the workspace."""
    if relative.startswith(("/", "~", "\\")) or re.match(r"^[A-Za-z]:", relative):
        return True
    joined = posixpath.normpath(posixpath.join(base_dir or ".", relative))
    return joined == ".." or joined.startswith("../")


def _check_module_source(configuration: Configuration, block: Block) -> Iterator[Finding]:
    source = block.body.get("source")
    if not isinstance(source, str):
        return
    is_local = source.startswith(("./", "../", "/", "~")) or source in (".", "..")
    if is_local and _escapes(_module_dir(block.file), source):
        yield _finding(
            configuration,
            block,
            "module_outside_workspace",
            f'module "{block.labels[0]}" has source "{source}", a local path outside the workspace',
            r"\bsource\b",
        )


def _check_file_functions(configuration: Configuration, block: Block) -> Iterator[Finding]:
    base_dir = _module_dir(block.file)
    for text in iter_strings(block.body):
        for match in _FILE_CALL.finditer(text):
            function = match[1]
            argument = text[match.end() :]
            literal = _leading_string_literal(argument)
            if literal is None:
                yield _finding(
                    configuration,
                    block,
                    "dynamic_file_path",
                    f"{function}() must be given a literal path inside the workspace",
                    rf"\b{function}\s*\(",
                )
                continue
            path = _PATH_PREFIX.sub("", literal)
            if "${" in path or "%{" in path:
                yield _finding(
                    configuration,
                    block,
                    "dynamic_file_path",
                    f'{function}("{literal}"): a path built from variables could leave the workspace',
                    rf"\b{function}\s*\(",
                )
            elif _escapes(base_dir, path or "."):
                yield _finding(
                    configuration,
                    block,
                    "path_outside_workspace",
                    f'{function}("{literal}") reads outside the workspace',
                    rf"\b{function}\s*\(",
                )


def _leading_string_literal(text: str) -> str | None:
    """The string literal an argument list starts with, or None when it starts with anything else."""
    if not text.startswith('"'):
        return None
    chars: list[str] = []
    depth = 0
    index = 1
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            chars.append(text[index : index + 2])
            index += 2
            continue
        if text.startswith("${", index):
            depth += 1
            chars.append("${")
            index += 2
            continue
        if char == "}" and depth:
            depth -= 1
        elif char == '"' and not depth:
            return "".join(chars)
        chars.append(char)
        index += 1
    return None
