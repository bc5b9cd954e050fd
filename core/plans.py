"""A reviewable view of a terraform plan: counts, per-attribute changes and a pull-request comment.

The input is ``terraform show -json PLAN`` (Terraform 1.0 to 1.11, OpenTofu; format 0.x and 1.x)
after :func:`core.redaction.redact_plan`. Sensitivity is still re-derived here from terraform's
own marks (``*_sensitive``), the redaction marker and secret names, and values seen sensitive
anywhere are hidden wherever else they appear: a view must not leak even if handed a raw plan.
Drift (``resource_drift``) is not a change this plan makes, so it is left out. Once redacted, a
changed secret equals its old self (both sides are the marker), so only raw plans show it changed.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from core.redaction import MIN_SCRUB_LENGTH, SENSITIVE, is_secret_name

Action = Literal["create", "update", "delete", "replace", "forget", "import"]
OutputAction = Literal["create", "update", "delete"]
PathPart = str | int
AttrPath = tuple[PathPart, ...]

# Nested values deeper than this are shown whole at the cut, so one huge policy is one row.
MAX_DEPTH: Final = 8
# Rows per resource; the rest are counted, not listed, so a review stays readable.
MAX_ATTRIBUTES: Final = 300
# Longest value (and path) a comment shows before an ellipsis.
MAX_VALUE_CHARS: Final = 200
# Resources given a diff block in a comment; GitHub rejects comments over 65536 characters.
MAX_DETAILED_RESOURCES: Final = 50

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_BACKTICK_RUN = re.compile(r"`+")
_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")


# --- the view -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttributeChange:
    """One leaf that differs; ``before``/``after`` are ``"(sensitive)"`` when hidden."""

    path: str
    before: Any
    after: Any
    sensitive: bool
    unknown: bool
    forces_replacement: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "before": self.before,
            "after": self.after,
            "sensitive": self.sensitive,
            "unknown": self.unknown,
            "forcesReplacement": self.forces_replacement,
        }


@dataclass(frozen=True)
class ResourceChange:
    address: str
    module_address: str | None
    type: str
    name: str
    deposed: str | None
    actions: tuple[str, ...]
    action: Action
    create_before_destroy: bool
    importing: bool
    action_reason: str | None
    attributes: tuple[AttributeChange, ...]
    omitted_attributes: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "moduleAddress": self.module_address,
            "type": self.type,
            "name": self.name,
            "deposed": self.deposed,
            "actions": list(self.actions),
            "action": self.action,
            "createBeforeDestroy": self.create_before_destroy,
            "importing": self.importing,
            "actionReason": self.action_reason,
            "attributes": [a.to_dict() for a in self.attributes],
            "omittedAttributes": self.omitted_attributes,
        }


@dataclass(frozen=True)
class OutputChange:
    name: str
    actions: tuple[str, ...]
    action: OutputAction
    before: Any
    after: Any
    sensitive: bool
    unknown: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "actions": list(self.actions),
            "action": self.action,
            "before": self.before,
            "after": self.after,
            "sensitive": self.sensitive,
            "unknown": self.unknown,
        }


@dataclass(frozen=True)
class PlanSummary:
    """Terraform's own counts: a replace is one add, one destroy and one replace."""

    add: int = 0
    change: int = 0
    destroy: int = 0
    replace: int = 0
    import_: int = 0
    forget: int = 0
    outputs: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "add": self.add,
            "change": self.change,
            "destroy": self.destroy,
            "replace": self.replace,
            "import": self.import_,
            "forget": self.forget,
            "outputs": self.outputs,
        }


@dataclass(frozen=True)
class PlanReview:
    summary: PlanSummary
    resource_changes: tuple[ResourceChange, ...]
    output_changes: tuple[OutputChange, ...]
    terraform_version: str | None

    @property
    def has_changes(self) -> bool:
        return bool(self.resource_changes or self.output_changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "terraformVersion": self.terraform_version,
            "hasChanges": self.has_changes,
            "summary": self.summary.to_dict(),
            "resourceChanges": [r.to_dict() for r in self.resource_changes],
            "outputChanges": [o.to_dict() for o in self.output_changes],
        }


# --- reading the plan ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Leaf:
    value: Any
    sensitive: bool
    unknown: bool


_Flat = dict[AttrPath, _Leaf]


def review_plan(plan: Mapping[str, Any]) -> PlanReview:
    """The changes a plan makes to managed resources and outputs, sensitive values hidden."""
    raw_changes = [c for c in _list(plan.get("resource_changes")) if isinstance(c, Mapping)]
    parsed = [p for p in (_parse_resource(c) for c in raw_changes) if p is not None]
    outputs = _mapping(plan.get("output_changes"))
    # First every value terraform marks sensitive, so its unmarked copies can be hidden too.
    secrets: set[str] = set()
    for item in parsed:
        for flat in (item.before, item.after):
            secrets.update(_secret_texts(leaf.value for leaf in flat.values() if leaf.sensitive))
    for change in outputs.values():
        if isinstance(change, Mapping) and _output_marked(change):
            secrets.update(_secret_texts([change.get("before"), change.get("after")]))

    resources = sorted(
        (_resource_change(item, secrets) for item in parsed),
        key=lambda r: (r.address, r.deposed or ""),
    )
    output_changes = sorted(
        (
            o
            for name, change in outputs.items()
            if isinstance(change, Mapping) and (o := _output_change(str(name), change, secrets)) is not None
        ),
        key=lambda o: o.name,
    )
    version = plan.get("terraform_version")
    return PlanReview(
        summary=_summary(resources, len(output_changes)),
        resource_changes=tuple(resources),
        output_changes=tuple(output_changes),
        terraform_version=version if isinstance(version, str) else None,
    )


@dataclass(frozen=True)
class _Parsed:
    raw: Mapping[str, Any]
    actions: tuple[str, ...]
    action: Action
    importing: bool
    before: _Flat
    after: _Flat
    raw_before: Any


def _parse_resource(raw: Mapping[str, Any]) -> _Parsed | None:
    # Data sources are read, never changed; a "managed" mode is absent only in hand-written JSON.
    if raw.get("mode", "managed") != "managed":
        return None
    body = _mapping(raw.get("change"))
    actions = tuple(str(a) for a in _list(body.get("actions")))
    importing = isinstance(body.get("importing"), Mapping)
    action = _resource_action(actions, importing=importing)
    if action is None:
        return None
    before = {} if action == "create" else _flatten(body.get("before"), body.get("before_sensitive"), None)
    after = (
        {}
        if action in ("delete", "forget")
        else _flatten(body.get("after"), body.get("after_sensitive"), body.get("after_unknown"))
    )
    return _Parsed(raw, actions, action, importing, before, after, body.get("before"))


_SINGLE_ACTIONS: Final[dict[tuple[str, ...], Action]] = {
    ("create",): "create",
    ("update",): "update",
    ("delete",): "delete",
}


def _resource_action(actions: tuple[str, ...], *, importing: bool) -> Action | None:
    kinds = set(actions)
    if kinds == {"delete", "create"}:
        return "replace"
    if "forget" in kinds:
        # 1.7+ ``removed { lifecycle { destroy = false } }``: left running, dropped from state.
        return "create" if "create" in kinds else "forget"
    if actions in _SINGLE_ACTIONS:
        return _SINGLE_ACTIONS[actions]
    # A no-op that imports (1.5+) still changes state.
    return "import" if importing and actions == ("no-op",) else None


def _resource_change(item: _Parsed, secrets: set[str]) -> ResourceChange:
    raw, body = item.raw, _mapping(item.raw.get("change"))
    replace_paths = [tuple(p) for p in _list(body.get("replace_paths")) if isinstance(p, list)]
    before = _collapse_under_unknown(item.before, item.after, item.raw_before)
    attributes = _attribute_changes(before, item.after, replace_paths, secrets)
    reason = raw.get("action_reason")
    module = raw.get("module_address")
    deposed = raw.get("deposed")
    return ResourceChange(
        address=str(raw.get("address", "")),
        module_address=module if isinstance(module, str) and module else None,
        type=str(raw.get("type", "")),
        name=str(raw.get("name", "")),
        deposed=deposed if isinstance(deposed, str) and deposed else None,
        actions=item.actions,
        action=item.action,
        create_before_destroy=item.action == "replace" and item.actions[0] == "create",
        importing=item.importing,
        action_reason=reason if isinstance(reason, str) and reason else None,
        attributes=tuple(attributes[:MAX_ATTRIBUTES]),
        omitted_attributes=max(0, len(attributes) - MAX_ATTRIBUTES),
    )


def _summary(resources: Sequence[ResourceChange], outputs: int) -> PlanSummary:
    counts = dict.fromkeys(("add", "change", "destroy", "replace", "import_", "forget"), 0)
    for resource in resources:
        kinds = set(resource.actions)
        counts["add"] += "create" in kinds
        counts["change"] += "update" in kinds
        counts["destroy"] += "delete" in kinds
        counts["replace"] += resource.action == "replace"
        counts["import_"] += resource.importing
        counts["forget"] += "forget" in kinds
    return PlanSummary(**counts, outputs=outputs)


# --- attributes ---------------------------------------------------------------------------------


def _flatten(value: Any, sensitive: Any, unknown: Any) -> _Flat:
    out: _Flat = {}
    _flatten_into(value, sensitive, unknown, (), out)
    return out


def _flatten_into(value: Any, sensitive: Any, unknown: Any, path: AttrPath, out: _Flat) -> None:
    """Leaves of a value, with terraform's parallel sensitive/unknown mark trees followed along."""
    if sensitive is True:
        # Not even the shape of a sensitive value is shown: its keys may be secret too.
        out[path] = _Leaf(value, sensitive=True, unknown=unknown is True)
        return
    if unknown is True:
        out[path] = _Leaf(None, sensitive=False, unknown=True)
        return
    deep = len(path) >= MAX_DEPTH
    if not deep and isinstance(value, Mapping) and (value or _mark_keys(unknown)):
        keys = list(value) + [k for k in _mapping(unknown) if k not in value]
        for key in keys:
            _flatten_into(
                value.get(key), _child(sensitive, key), _child(unknown, key), (*path, str(key)), out
            )
        return
    if not deep and isinstance(value, list) and (value or _mark_keys(unknown)):
        size = max(len(value), len(unknown) if isinstance(unknown, list) else 0)
        for index in range(size):
            inner = value[index] if index < len(value) else None
            _flatten_into(inner, _child(sensitive, index), _child(unknown, index), (*path, index), out)
        return
    if not deep and value is None and _any_true(unknown):
        # Absent but partly unknown (a block whose every part is computed).
        for key in _mark_keys(unknown):
            _flatten_into(None, _child(sensitive, key), _child(unknown, key), (*path, key), out)
        return
    out[path] = _Leaf(value, sensitive=_any_true(sensitive), unknown=_any_true(unknown))


def _attribute_changes(
    before: _Flat, after: _Flat, replace_paths: Sequence[tuple[Any, ...]], secrets: set[str]
) -> list[AttributeChange]:
    before, after = _drop_emptied(before, after), _drop_emptied(after, before)
    changes: list[AttributeChange] = []
    for path in sorted(before.keys() | after.keys(), key=_path_sort_key):
        old, new = before.get(path), after.get(path)
        old_value = old.value if old else None
        new_value = new.value if new else None
        unknown = bool(new and new.unknown)
        marked = bool((old and old.sensitive) or (new and new.sensitive))
        if not unknown and old_value is None and new_value is None:
            continue
        if (
            not unknown
            and old is not None
            and new is not None
            and old.sensitive == new.sensitive
            and _same(old_value, new_value)
        ):
            continue
        sensitive = marked or _hidden(old_value, path, secrets) or _hidden(new_value, path, secrets)
        changes.append(
            AttributeChange(
                path=_path_text(path),
                before=_shown(old_value, sensitive),
                after=None if unknown else _shown(new_value, sensitive),
                sensitive=sensitive,
                unknown=unknown,
                forces_replacement=any(_related(path, p) for p in replace_paths),
            )
        )
    return changes


def _collapse_under_unknown(before: _Flat, after: _Flat, raw_before: Any) -> _Flat:
    """A known map that becomes unknown is one row (``output = {...} -> (known after apply)``)."""
    collapsed = dict(before)
    for path, leaf in after.items():
        if not leaf.unknown:
            continue
        under = [p for p in collapsed if len(p) > len(path) and p[: len(path)] == path]
        if under:
            sensitive = any(collapsed.pop(p).sensitive for p in under)
            collapsed[path] = _Leaf(_value_at(raw_before, path), sensitive=sensitive, unknown=False)
    return collapsed


def _value_at(value: Any, path: AttrPath) -> Any:
    for part in path:
        value = _child(value, part)
    return value


def _drop_emptied(side: _Flat, other: _Flat) -> _Flat:
    """``tags = {}`` on one side and ``tags.Name`` on the other is one change, not two."""
    return {
        path: leaf
        for path, leaf in side.items()
        if not (leaf.value in ({}, []) and any(len(p) > len(path) and p[: len(path)] == path for p in other))
    }


def _shown(value: Any, sensitive: bool) -> Any:
    return SENSITIVE if sensitive and value is not None else value


def _hidden(value: Any, path: AttrPath, secrets: set[str]) -> bool:
    if value is None or isinstance(value, bool):
        return False
    names = [p for p in path if isinstance(p, str)]
    if names and is_secret_name(names[-1]) and not isinstance(value, (Mapping, list)):
        return True
    return _reveals(value, secrets)


def _reveals(value: Any, secrets: set[str]) -> bool:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return SENSITIVE in text or any(secret in text for secret in secrets)


def _secret_texts(values: Iterable[Any]) -> set[str]:
    found: set[str] = set()
    for value in values:
        for leaf in _leaves(value):
            if leaf is None or isinstance(leaf, bool):
                continue
            text = str(leaf)
            if len(text) >= MIN_SCRUB_LENGTH and text != SENSITIVE:
                found.add(text)
    return found


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, Mapping):
        for inner in value.values():
            yield from _leaves(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _leaves(inner)
    else:
        yield value


def _same(a: Any, b: Any) -> bool:
    # json, not ==, so 1 and true (or 1 and 1.0) stay different as terraform sees them.
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def _related(path: AttrPath, replace_path: tuple[Any, ...]) -> bool:
    """A replace path at, above or below a row (a row may be cut short at MAX_DEPTH)."""
    shorter = min(len(path), len(replace_path))
    return all(_same_step(path[i], replace_path[i]) for i in range(shorter))


def _same_step(part: PathPart, step: Any) -> bool:
    if isinstance(part, int):
        return isinstance(step, int) and not isinstance(step, bool) and step == part
    return isinstance(step, str) and step == part


def _path_sort_key(path: AttrPath) -> tuple[tuple[int, Any], ...]:
    return tuple((0, p) if isinstance(p, int) else (1, p) for p in path)


def _path_text(path: AttrPath) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _IDENTIFIER.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{json.dumps(part, ensure_ascii=False)}]"
    return text


def _child(marks: Any, key: PathPart) -> Any:
    if isinstance(marks, Mapping) and isinstance(key, str):
        return marks.get(key)
    if isinstance(marks, list) and isinstance(key, int) and 0 <= key < len(marks):
        return marks[key]
    return None


def _mark_keys(marks: Any) -> list[PathPart]:
    if isinstance(marks, Mapping):
        return [str(k) for k, v in marks.items() if _any_true(v)]
    if isinstance(marks, list):
        return [i for i, v in enumerate(marks) if _any_true(v)]
    return []


def _any_true(marks: Any) -> bool:
    if marks is True:
        return True
    if isinstance(marks, Mapping):
        return any(_any_true(v) for v in marks.values())
    if isinstance(marks, list):
        return any(_any_true(v) for v in marks)
    return False


# --- outputs ------------------------------------------------------------------------------------


def _output_marked(change: Mapping[str, Any]) -> bool:
    return _any_true(change.get("before_sensitive")) or _any_true(change.get("after_sensitive"))


def _output_change(name: str, change: Mapping[str, Any], secrets: set[str]) -> OutputChange | None:
    actions = tuple(str(a) for a in _list(change.get("actions")))
    action: OutputAction
    if actions == ("create",):
        action = "create"
    elif actions == ("delete",):
        action = "delete"
    elif actions in (("update",), ("delete", "create"), ("create", "delete")):
        action = "update"
    else:
        return None
    before, after = change.get("before"), change.get("after")
    after_unknown = change.get("after_unknown")
    unknown = _any_true(after_unknown)
    if after_unknown is True or action == "delete":
        after = None
    if action == "create":
        before = None
    # An output is hidden whole: which of its parts is secret is itself worth keeping back.
    sensitive = (
        _output_marked(change)
        or is_secret_name(name)
        or any(v is not None and _reveals(v, secrets) for v in (before, after))
    )
    return OutputChange(
        name=name,
        actions=actions,
        action=action,
        before=_shown(before, sensitive),
        after=_shown(after, sensitive),
        sensitive=sensitive,
        unknown=unknown,
    )


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# --- markdown -----------------------------------------------------------------------------------

_SIGNS: Final[dict[Action, str]] = {
    "create": "+",
    "update": "~",
    "delete": "-",
    "replace": "-/+",
    "forget": ".",
    "import": "<=",
}
_VERBS: Final[dict[Action, str]] = {
    "create": "will be created",
    "update": "will be updated in-place",
    "delete": "will be destroyed",
    "replace": "must be replaced",
    "forget": "will be removed from the state, not destroyed",
    "import": "will be imported",
}
# Terraform's action_reason values, as its own plan output words them.
_REASONS: Final = {
    "replace_because_tainted": "it is tainted",
    "replace_because_cannot_update": "some attributes cannot be updated in-place",
    "replace_by_request": "replacement was requested (-replace)",
    "replace_by_triggers": "of replace_triggered_by",
    "delete_because_no_resource_config": "its resource block was removed",
    "delete_because_no_module": "its module was removed",
    "delete_because_wrong_repetition": "its count or for_each changed shape",
    "delete_because_count_index": "its count index is out of range",
    "delete_because_each_key": "its for_each key is no longer in the map",
    "delete_because_no_move_target": "its moved block has no target",
}


def render_markdown(
    review: PlanReview,
    *,
    project_id: str,
    job_id: str,
    cost: Mapping[str, Any] | None = None,
    title: str | None = None,
) -> str:
    """A pull-request comment: summary, a table of resources, a diff per resource, outputs, cost.

    Nothing from the plan is trusted as markdown: prose is escaped, cells and summaries are code,
    and every code block is fenced longer than any backtick run inside it.
    """
    heading = _escape_text(title) if title else "Terraform plan"
    lines = [
        f"### {heading} for {_code_span(project_id)} (job {_code_span(job_id)})",
        "",
        _summary_line(review),
    ]
    if review.resource_changes:
        lines += ["", "| | Resource | Action |", "|:-:|---|---|"]
        for resource in review.resource_changes:
            lines.append(
                f"| {_code_span(_sign(resource), table=True)} "
                f"| {_code_span(_label(resource), table=True)} | {_action_word(resource)} |"
            )
        for resource in review.resource_changes[:MAX_DETAILED_RESOURCES]:
            lines += ["", *_resource_details(resource)]
        hidden = len(review.resource_changes) - MAX_DETAILED_RESOURCES
        if hidden > 0:
            lines += ["", f"_…and {hidden} more resources; see the full plan._"]
    if review.output_changes:
        body = [_output_line(o) for o in review.output_changes]
        lines += ["", "#### Changes to outputs", "", *_fenced(body, "diff")]
    if cost is not None:
        lines += ["", "#### Cost", "", *_cost_lines(cost)]
    return "\n".join(lines) + "\n"


def _summary_line(review: PlanReview) -> str:
    s = review.summary
    if not review.has_changes:
        return "No changes. Your infrastructure matches the configuration."
    parts = [f"{s.import_} to import"] if s.import_ else []
    parts += [f"{s.add} to add", f"{s.change} to change", f"{s.destroy} to destroy"]
    if s.forget:
        parts.append(f"{s.forget} to forget")
    line = "**Plan:** " + ", ".join(parts)
    if s.replace:
        line += f" ({s.replace} replaced)"
    line += "."
    if s.outputs:
        line += f" {s.outputs} output{'s' if s.outputs != 1 else ''} changed."
    return line


def _sign(resource: ResourceChange) -> str:
    return "+/-" if resource.create_before_destroy else _SIGNS[resource.action]


def _label(resource: ResourceChange) -> str:
    return f"{resource.address} (deposed {resource.deposed})" if resource.deposed else resource.address


def _action_word(resource: ResourceChange) -> str:
    word: str = resource.action
    if resource.create_before_destroy:
        word += " (create before destroy)"
    if resource.importing and resource.action != "import":
        word += ", import"
    return word


def _resource_details(resource: ResourceChange) -> list[str]:
    verb = _VERBS[resource.action]
    if resource.create_before_destroy:
        verb += ", the new one first"
    summary = f"<code>{html.escape(_one_line(_label(resource)))}</code> {verb}"
    body: list[str] = []
    if resource.action_reason:
        reason = _REASONS.get(resource.action_reason, resource.action_reason)
        body.append(f"# because {_clip(_one_line(reason))}")
    body += [_attribute_line(resource, a) for a in resource.attributes]
    if resource.omitted_attributes:
        body.append(f"# ({resource.omitted_attributes} more attributes not shown)")
    if not body:
        body.append("# (no attribute changes)")
    return [f"<details><summary>{summary}</summary>", "", *_fenced(body, "diff"), "", "</details>"]


def _attribute_line(resource: ResourceChange, attr: AttributeChange) -> str:
    path = _clip(_one_line(attr.path) or "(whole object)")
    old = _value_text(attr.before, sensitive=attr.sensitive)
    new = "(known after apply)" if attr.unknown else _value_text(attr.after, sensitive=attr.sensitive)
    if resource.action in ("delete", "forget") or (attr.after is None and not attr.unknown):
        line = f"- {path} = {old}"
    elif attr.before is None:
        line = f"+ {path} = {new}"
    else:
        line = f"~ {path} = {old} -> {new}"
    return line + ("  # forces replacement" if attr.forces_replacement else "")


def _output_line(output: OutputChange) -> str:
    old = _value_text(output.before, sensitive=output.sensitive)
    if output.unknown and output.after is None:
        new = "(known after apply)"
    else:
        new = _value_text(output.after, sensitive=output.sensitive)
        if output.unknown:
            new += "  # partly known after apply"
    name = _clip(_one_line(output.name))
    if output.action == "create":
        return f"+ {name} = {new}"
    if output.action == "delete":
        return f"- {name} = {old}"
    return f"~ {name} = {old} -> {new}"


def _value_text(value: Any, *, sensitive: bool) -> str:
    if sensitive and value is not None:
        return SENSITIVE
    # JSON escapes newlines and quotes, so a value is always one line of its block.
    return _clip(json.dumps(value, ensure_ascii=False, sort_keys=True, default=str))


def _cost_lines(cost: Mapping[str, Any]) -> list[str]:
    currency = str(cost.get("currency")) if isinstance(cost.get("currency"), str) else "USD"
    prior, proposed, delta = (_number(cost.get(k)) for k in ("prior", "proposed", "delta"))
    priced, total, free, unpriced = (_count(cost.get(k)) for k in ("priced", "total", "free", "unpriced"))
    # Unpriced resources make the proposed total a floor: it is shown as one.
    floor = "≥ " if unpriced or cost.get("lowerBound") is True else ""
    if proposed is None:
        line = "**Monthly cost:** unknown"
    elif prior is None:
        line = f"**Monthly cost:** {floor}{_money(proposed, currency)}"
    else:
        line = f"**Monthly cost:** {_money(prior, currency)} → {floor}{_money(proposed, currency)}"
    if delta is not None and proposed is not None:
        sign = "-" if delta < 0 else "+"
        line += f" ({sign}{_money(abs(delta), currency)})"
    lines = [line]
    if total:
        coverage = f"{priced} of {total} resources priced, {free} free, {unpriced} unpriced"
        if unpriced:
            coverage += ", so the total is a lower bound"
        lines += ["", coverage + "."]
    warnings = cost.get("warnings")
    for warning in warnings if isinstance(warnings, list) else []:
        if isinstance(warning, str) and "lower bound" not in warning and "floor" not in warning:
            lines += ["", f"> {_escape_text(warning)}"]
    lines += _recommendation_lines(cost.get("recommendations"), currency)
    return lines


def _recommendation_lines(found: Any, currency: str) -> list[str]:
    rows = [r for r in found if isinstance(r, Mapping)] if isinstance(found, list) else []
    if not rows:
        return []
    lines = ["", "| Saving a month | Resource | Change |", "|--:|---|---|"]
    for row in rows:
        saving = _number(row.get("monthlySaving"))
        lines.append(
            f"| {_money(saving or 0.0, currency)} "
            f"| {_code_span(str(row.get('address', '')), table=True)} "
            f"| {_code_span(str(row.get('change', '')), table=True)} |"
        )
    return lines


def _money(amount: float, currency: str) -> str:
    if currency == "USD":
        return f"${amount:,.2f}"
    return f"{amount:,.2f} {_escape_text(currency)}"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


# --- markdown safety ----------------------------------------------------------------------------


def _one_line(text: str) -> str:
    """Line breaks and other controls as escapes: one may never end a table row or an HTML block."""
    return _CONTROL.sub(lambda m: json.dumps(m.group())[1:-1], text)


def _clip(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _escape_text(text: str) -> str:
    """Prose: every ASCII punctuation mark backslash-escaped (CommonMark allows it for all of them)."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", _clip(_one_line(text)))


def _code_span(text: str, *, table: bool = False) -> str:
    content = _clip(_one_line(text))
    ticks = "`" * (max((len(r) for r in _BACKTICK_RUN.findall(content)), default=0) + 1)
    if content.startswith(("`", " ")) or content.endswith(("`", " ")):
        content = f" {content} "
    span = f"{ticks}{content}{ticks}"
    # GFM splits rows on pipes before it reads code spans, so a pipe is escaped even inside one.
    return span.replace("|", "\\|") if table else span


def _fenced(lines: Sequence[str], info: str = "") -> list[str]:
    longest = max((len(r) for line in lines for r in _BACKTICK_RUN.findall(line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, *lines, fence]


POLICY_MARKS: Final = {"passed": "✅", "failed": "❌", "errored": "⚠️"}


def render_policies(check: Mapping[str, Any]) -> str:
    """The policy section of a pull-request comment. Policy messages are untrusted text (a Rego
    policy writes them): they go into a fenced block, never into markdown."""
    lines = [
        "#### Policies",
        "",
        f"**{_escape_text(str(check.get('outcome', '')))}:** {_escape_text(str(check.get('message', '')))}",
    ]
    results = check.get("results") or []
    if results:
        lines += ["", "| | Policy | Level | Version |", "|:-:|---|---|---|"]
        for result in results:
            name = f"{result.get('scope')}/{result.get('policy')}"
            lines.append(
                f"| {POLICY_MARKS.get(str(result.get('outcome')), '?')} | {_code_span(name, table=True)} "
                f"| {_code_span(str(result.get('level')), table=True)} "
                f"| {_code_span(str(result.get('version')), table=True)} |"
            )
        messages = [
            f"{result.get('scope')}/{result.get('policy')}: {_one_line(str(message))}"
            for result in results
            for message in [*(result.get("messages") or []), *(result.get("warnings") or [])]
        ]
        if messages:
            lines += ["", *_fenced(messages)]
    override = check.get("override")
    if isinstance(override, Mapping):
        who, reason = _code_span(str(override.get("by"))), _escape_text(str(override.get("reason")))
        lines += ["", f"Overridden by {who}: {reason}"]
    return "\n".join(lines) + "\n"
