"""Buttons can't be dead: every payload is built from a declared action, and every declared
action is handled."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from bot.core import MAX_PAYLOAD_BYTES, ActionRef, Registry
from handlers import actions, build_registry

HANDLERS = Path(__file__).resolve().parent.parent / "handlers"
CATALOGUE = HANDLERS / "actions.py"


def _declared() -> dict[str, ActionRef]:
    return {name: ref for name, ref in vars(actions).items() if isinstance(ref, ActionRef)}


def _sources() -> list[tuple[Path, ast.Module]]:
    return [
        (path, ast.parse(path.read_text(), str(path))) for path in sorted(HANDLERS.rglob("*.py"))
    ]


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(HANDLERS.parent)}:{getattr(node, 'lineno', '?')}"


def _built_by_a_ref(node: ast.expr) -> bool:
    """``actions.NAME.payload(...)``, or ``ref.payload(...)`` on an ActionRef passed in."""
    if not (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "payload"
    ):
        return False
    ref = node.func.value
    if isinstance(ref, ast.Attribute):
        return isinstance(ref.value, ast.Name) and ref.value.id == "actions"
    return isinstance(ref, ast.Name)


def _payload_argument(call: ast.Call) -> ast.expr | None:
    if len(call.args) >= 2:
        return call.args[1]
    return next((k.value for k in call.keywords if k.arg == "payload"), None)


def test_every_button_payload_is_built_from_a_declared_action() -> None:
    found = []
    for path, tree in _sources():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "Button"
            ):
                payload = _payload_argument(node)
                if payload is None or not _built_by_a_ref(payload):
                    found.append(f"{_where(path, node)}: {ast.unparse(node)}")
    assert found == []


def test_no_payload_is_written_as_a_string() -> None:
    """Buttons queued as [label, payload] pairs for the outbox are built from refs too: no
    string in handlers starts like a payload of a registered action ("opp:", "dg:stop")."""
    names = "|".join(sorted(build_registry().actions, key=len, reverse=True))
    payload_like = re.compile(rf"(?:{names})(?::|$)")
    found = []
    for path, tree in _sources():
        if path == CATALOGUE:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr) and node.values:
                first = node.values[0]
                text = first.value if isinstance(first, ast.Constant) else ""
                if isinstance(text, str) and re.match(rf"(?:{names}):", text):
                    found.append(f"{_where(path, node)}: {ast.unparse(node)}")
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and ":" in node.value
                and payload_like.fullmatch(node.value.split(":", 1)[0] + ":")
                and re.fullmatch(r"[a-z0-9_]+(:[A-Za-z0-9_.+/-]+)*", node.value)
            ):
                found.append(f"{_where(path, node)}: {node.value!r}")
    assert found == []


def test_action_refs_are_declared_only_in_the_catalogue() -> None:
    found = [
        _where(path, node)
        for path, tree in _sources()
        if path != CATALOGUE
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "ActionRef"
    ]
    assert found == []


def test_every_declared_action_is_handled_and_every_handled_one_declared() -> None:
    declared = {ref.name for ref in _declared().values()}
    registered = set(build_registry().actions)
    assert sorted(declared - registered) == [], "buttons for actions nobody handles"
    assert sorted(registered - declared) == [], "actions registered without a declared ref"
    assert len(declared) == len(_declared()), "two refs share one action name"


def test_a_ref_builds_the_payloads_buttons_already_carry() -> None:
    """Buttons already in people's chats keep working: the formats are unchanged."""
    assert actions.OPEN_LISTING.payload(42) == "opp:42"
    assert actions.MY_APPLICATIONS.payload() == "mine"
    assert actions.EMPLOYER_ANSWER.payload(7, "inv") == "em:7:inv"
    tz = actions.ONBOARDING.payload("tz", "America/Argentina/Buenos_Aires")
    assert tz == "onb:tz:America/Argentina/Buenos_Aires"
    assert actions.LANGUAGE.payload("es") == "lang:es"


@pytest.mark.parametrize(
    "parts",
    [("has space",), ("a:b",), ("",), ("ünïcode",), ("x" * MAX_PAYLOAD_BYTES,)],
)
def test_a_payload_a_platform_cannot_carry_back_is_refused_when_built(
    parts: tuple[str, ...],
) -> None:
    with pytest.raises(ValueError):
        actions.OPEN_LISTING.payload(*parts)


def test_a_payload_of_exactly_the_limit_is_built() -> None:
    parts = "x" * (MAX_PAYLOAD_BYTES - len("opp:"))
    assert len(actions.OPEN_LISTING.payload(parts)) == MAX_PAYLOAD_BYTES


@pytest.mark.parametrize("name", ["", "Opp", "1st", "a:b", "a b"])
def test_an_action_name_a_payload_cannot_start_with_is_refused(name: str) -> None:
    with pytest.raises(ValueError):
        ActionRef(name)


def test_an_action_is_registered_once_even_across_registries() -> None:
    ref = ActionRef("zz")
    first, second = Registry(), Registry()
    first.action(ref, roles=frozenset())(lambda ctx, args: [])
    second.action(ref, roles=frozenset())(lambda ctx, args: [])
    combined = Registry()
    combined.include(first)
    with pytest.raises(ValueError):
        combined.include(second)
