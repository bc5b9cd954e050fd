"""Builds one resource's cost from catalog prices: the only place quantities meet prices."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cost.catalog import PriceCatalog
from cost.model import HOURS_PER_MONTH, Category, Component, ResourceCost, ResourceInput
from cost.usage import lookup

_MATCH_ATTRIBUTES = ("arn", "id", "name", "family")


class ResourceIndex:
    """The other resources of the same estimate, to follow references (service -> task definition)."""

    def __init__(self, resources: Iterable[ResourceInput]) -> None:
        self.by_address: dict[str, ResourceInput] = {}
        self.by_type: dict[str, list[ResourceInput]] = {}
        for resource in resources:
            self.by_address[resource.address] = resource
            self.by_type.setdefault(resource.type, []).append(resource)

    def resolve(self, resource: ResourceInput, attribute: str, wanted_type: str) -> ResourceInput | None:
        for ref in resource.refs.get(attribute, ()):
            if not ref.startswith(wanted_type + "."):
                continue
            found = self.by_address.get(ref)
            if found is not None:
                return found
            # A reference to a counted resource names it without an index: take its first instance.
            for candidate in self.by_type.get(wanted_type, ()):
                if candidate.address.startswith(ref + "["):
                    return candidate
        # State and applied plans hold the value itself (an ARN, an id): match it.
        values = set(_leaf_strings(resource.attrs.get(attribute)))
        if not values:
            return None
        for candidate in self.by_type.get(wanted_type, ()):
            for name in _MATCH_ATTRIBUTES:
                value = candidate.attrs.get(name)
                if isinstance(value, str) and value and (value in values or _arn_family(values, value)):
                    return candidate
        return None


def _leaf_strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for inner in value.values():
            yield from _leaf_strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _leaf_strings(inner)


def _arn_family(values: set[str], family: str) -> bool:
    # arn:aws:ecs:...:task-definition/web:3 names the family "web".
    return any(v.rsplit("/", 1)[-1].split(":", 1)[0] == family for v in values if "task-definition/" in v)


class Bill:
    def __init__(
        self,
        resource: ResourceInput,
        category: Category,
        catalog: PriceCatalog,
        usage: Mapping[str, Any],
        index: ResourceIndex,
    ) -> None:
        self.resource = resource
        self.attrs = resource.attrs
        self.region = resource.region
        self.catalog = catalog
        self.usage_values = usage
        self.index = index
        self.cost = ResourceCost(resource.address, resource.type, category, resource.region)

    def price(self, key: str) -> float | None:
        found = self.catalog.lookup(key, self.region)
        return None if found is None else found.amount

    def fixed(self, name: str, key: str, quantity: float, unit: str) -> None:
        """A component whose quantity the configuration fixes (hours, GB provisioned, months)."""
        found = self.catalog.lookup(key, self.region)
        if found is None:
            self.missing(name, key)
            return
        self.cost.components.append(Component(name, unit, quantity, found.amount, key, found.source))

    def hourly(self, name: str, key: str, count: float = 1.0) -> None:
        self.fixed(name, key, count * HOURS_PER_MONTH, "hours")

    def usage(self, name: str, key: str, usage_key: str, unit: str, scale: float = 1.0) -> None:
        """A usage-based component: $0 and listed as such unless the usage file gives a quantity.

        ``scale`` turns the usage figure into the price's unit (requests -> millions of requests).
        """
        value = lookup(self.usage_values, usage_key)
        self.metered(name, key, None if value is None else value * scale, unit)

    def metered(self, name: str, key: str, quantity: float | None, unit: str) -> None:
        """A usage-based component whose quantity the caller derived (None: no usage given)."""
        found = self.catalog.lookup(key, self.region)
        if found is None:
            self.missing(name, key)
            return
        self.cost.components.append(
            Component(name, unit, quantity, found.amount, key, found.source, usage_based=True)
        )

    def tiered(
        self,
        name: str,
        tiers: list[tuple[float, str]],
        usage_key: str,
        unit: str,
        scale: float,
        *,
        factor: float = 1.0,
    ) -> None:
        """Usage billed in tiers: ``tiers`` is [(tier size in usage units, price key), ...].

        ``factor`` turns the usage figure into billed units before tiering (a 100 KB message
        bills as four 32 KB ones)."""
        value = lookup(self.usage_values, usage_key)
        if value is None:
            self.metered(name, tiers[0][1], None, unit)
            return
        remaining = value * factor
        for number, (size, key) in enumerate(tiers):
            if remaining <= 0 and number > 0:
                break
            used = min(remaining, size)
            self.metered(f"{name} (tier {number + 1})", key, used * scale, unit)
            remaining -= used

    def usage_value(self, *usage_keys: str) -> float | None:
        """The first of ``usage_keys`` the usage gives (later ones are older spellings we accept)."""
        for usage_key in usage_keys:
            value = lookup(self.usage_values, usage_key)
            if value is not None:
                return value
        return None

    def optional(self, name: str, key: str, quantity: float | None, unit: str) -> None:
        """A usage-based component the catalog may not price: listed at $0 when it has a price and
        no usage; unpriced only when the usage file gives a quantity nobody can price."""
        if self.catalog.lookup(key, self.region) is None and quantity is None:
            return
        self.metered(name, key, quantity, unit)

    def optional_usage(self, name: str, key: str, usage_key: str, unit: str, scale: float = 1.0) -> None:
        value = lookup(self.usage_values, usage_key)
        self.optional(name, key, None if value is None else value * scale, unit)

    def text_usage(self, usage_key: str) -> str | None:
        """A usage value that is a word (``operating_system: windows``), lower case."""
        value = self.usage_values.get(usage_key)
        return value.strip().lower() if isinstance(value, str) and value.strip() else None

    def missing(self, name: str, key: str) -> None:
        self.cost.unpriced.append(f"{name}: no list price in the catalog for {key} in {self.region}")

    def unknown(self, name: str, why: str) -> None:
        self.cost.unpriced.append(f"{name}: {why}")
