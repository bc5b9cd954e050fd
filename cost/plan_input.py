"""Resources from ``terraform show -json`` plans and from terraform state (format version 4).

count and for_each are already expanded there. Values the runner redacted read "(sensitive)" and
count as unknown. A resource's region is its own ``region`` attribute (AWS provider 6), else its
provider configuration's region, else the caller's default.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from cost.model import ResourceInput

_INDEX = re.compile(r"\[[^\]]*\]")
_ARN_REGION = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:([a-z]{2}(?:-gov)?-[a-z]+-\d):")
_REGION = re.compile(r"^[a-z]{2}(?:-gov)?-[a-z]+-\d$")


def _region_value(value: Any) -> str | None:
    return value if isinstance(value, str) and _REGION.match(value) else None


def config_address(address: str) -> str:
    """``module.a[0].aws_instance.b["x"]`` -> ``module.a.aws_instance.b``."""
    return _INDEX.sub("", address)


class PlanReader:
    def __init__(self, plan: Mapping[str, Any], default_region: str) -> None:
        self.plan = plan
        self.default_region = default_region
        self.variables = {
            name: spec.get("value")
            for name, spec in dict(plan.get("variables") or {}).items()
            if isinstance(spec, Mapping)
        }
        configuration = plan.get("configuration") or {}
        self.provider_regions = self._provider_regions(configuration.get("provider_config") or {})
        self.refs: dict[str, dict[str, tuple[str, ...]]] = {}
        self.provider_keys: dict[str, str] = {}
        self._walk_module(configuration.get("root_module") or {}, "")

    def _provider_regions(self, configs: Mapping[str, Any]) -> dict[str, str]:
        regions: dict[str, str] = {}
        for key, config in configs.items():
            if not isinstance(config, Mapping) or config.get("name", "aws") != "aws":
                continue
            expression = (config.get("expressions") or {}).get("region") or {}
            region = _region_value(expression.get("constant_value"))
            if region is None:
                for ref in expression.get("references") or ():
                    if isinstance(ref, str) and ref.startswith("var."):
                        region = _region_value(self.variables.get(ref[4:].split(".")[0]))
                        if region:
                            break
            if region:
                regions[key] = region
        return regions

    def _walk_module(self, module: Mapping[str, Any], prefix: str) -> None:
        for resource in module.get("resources") or ():
            address = prefix + str(resource.get("address", ""))
            self.provider_keys[address] = str(resource.get("provider_config_key", "aws"))
            refs: dict[str, tuple[str, ...]] = {}
            for name, expression in (resource.get("expressions") or {}).items():
                found = tuple(_references(expression, prefix))
                if found:
                    refs[name] = found
            self.refs[address] = refs
        for name, call in (module.get("module_calls") or {}).items():
            if isinstance(call, Mapping):
                self._walk_module(call.get("module") or {}, f"{prefix}module.{name}.")

    def region_for(self, config: str, attrs: Mapping[str, Any]) -> str:
        own = _region_value(attrs.get("region"))
        if own:
            return own
        key = self.provider_keys.get(config, "aws")
        return (
            self.provider_regions.get(key)
            or self.provider_regions.get(key.rsplit(":", 1)[-1])
            or self.provider_regions.get("aws")
            or self.default_region
        )

    def proposed(self) -> list[ResourceInput]:
        changes = self.plan.get("resource_changes")
        if isinstance(changes, list):
            out = []
            for change in changes:
                if not isinstance(change, Mapping) or change.get("mode", "managed") != "managed":
                    continue
                body = change.get("change") or {}
                if list(body.get("actions") or ()) == ["delete"]:
                    continue
                after = body.get("after")
                out.append(self._resource(str(change.get("address")), str(change.get("type")), after))
            return out
        root = ((self.plan.get("planned_values") or {}).get("root_module")) or {}
        return [self._resource(a, t, v) for a, t, v in _values_resources(root)]

    def prior(self) -> list[ResourceInput] | None:
        prior_state = self.plan.get("prior_state")
        if not isinstance(prior_state, Mapping):
            return None
        root = (prior_state.get("values") or {}).get("root_module") or {}
        return [self._resource(a, t, v) for a, t, v in _values_resources(root)]

    def _resource(self, address: str, resource_type: str, values: Any) -> ResourceInput:
        attrs = values if isinstance(values, Mapping) else {}
        config = config_address(address) if "[" in address else address
        return ResourceInput(
            address=address,
            type=resource_type,
            attrs=attrs,
            region=self.region_for(config, attrs),
            refs=self.refs.get(config, {}),
        )


def _references(expression: Any, prefix: str) -> Iterator[str]:
    """Resource addresses an expression refers to (``aws_x.y.arn`` -> ``aws_x.y``)."""
    if isinstance(expression, Mapping):
        for ref in expression.get("references") or ():
            if isinstance(ref, str) and not ref.startswith(
                ("var.", "local.", "module.", "data.", "each.", "count.")
            ):
                parts = ref.split(".")
                if len(parts) >= 2:
                    yield prefix + ".".join(parts[:2]).split("[")[0]
        for key, inner in expression.items():
            if key != "references":
                yield from _references(inner, prefix)
    elif isinstance(expression, list):
        for inner in expression:
            yield from _references(inner, prefix)


def _values_resources(module: Mapping[str, Any]) -> Iterator[tuple[str, str, Any]]:
    for resource in module.get("resources") or ():
        if isinstance(resource, Mapping) and resource.get("mode", "managed") == "managed":
            yield str(resource.get("address")), str(resource.get("type")), resource.get("values")
    for child in module.get("child_modules") or ():
        if isinstance(child, Mapping):
            yield from _values_resources(child)


def resources_from_state(state: Mapping[str, Any], default_region: str) -> list[ResourceInput]:
    """What a state document (format version 4) says is deployed."""
    version = state.get("version")
    if version is not None and version != 4:
        raise ValueError(f"unsupported terraform state version {version!r}; expected 4")
    out: list[ResourceInput] = []
    for resource in state.get("resources") or ():
        if not isinstance(resource, Mapping) or resource.get("mode", "managed") != "managed":
            continue
        module = f"{resource['module']}." if resource.get("module") else ""
        base = f"{module}{resource.get('type')}.{resource.get('name')}"
        for instance in resource.get("instances") or ():
            key = instance.get("index_key")
            address = base if key is None else f"{base}[{json.dumps(key)}]"
            attrs = instance.get("attributes") or {}
            region = _region_value(attrs.get("region"))
            if region is None and isinstance(attrs.get("arn"), str):
                match = _ARN_REGION.match(attrs["arn"])
                region = match.group(1) if match else None
            out.append(ResourceInput(address, str(resource.get("type")), attrs, region or default_region))
    return out
