"""The action state machine and the policy file: pure rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError, InvalidTransition, PermissionDenied
from core.governance.auth import SYSTEM_ACTOR, Actor, has_role, require_role
from core.governance.policy import DEFAULT_POLICY_FILE, load_policy, parse_policy
from core.governance.states import TERMINAL, TRANSITIONS, ActionStatus, ActionType, check_transition

S = ActionStatus


def test_the_happy_path_is_allowed() -> None:
    for a, b in [
        (S.REQUESTED, S.APPROVED),
        (S.APPROVED, S.EXECUTING),
        (S.EXECUTING, S.SUCCEEDED),
    ]:
        assert check_transition(a, b) == b


@pytest.mark.parametrize("current", list(ActionStatus))
@pytest.mark.parametrize("new", list(ActionStatus))
def test_every_move_outside_the_table_raises(current: ActionStatus, new: ActionStatus) -> None:
    if new in TRANSITIONS[current]:
        assert check_transition(current, new) == new
    else:
        with pytest.raises(InvalidTransition):
            check_transition(current, new)


def test_terminal_states_and_unknown_names() -> None:
    assert TERMINAL == {S.SUCCEEDED, S.FAILED, S.REJECTED, S.EXPIRED, S.SUPERSEDED}
    with pytest.raises(InvalidTransition):
        check_transition("requested", "teleported")
    with pytest.raises(InvalidTransition):
        check_transition(S.REQUESTED, S.EXECUTING)  # never skip approval


def test_policy_file_covers_every_action_type_and_versions_by_content(
    tmp_path: Path,
) -> None:
    policy = load_policy(DEFAULT_POLICY_FILE)
    assert set(policy.actions) == {str(t) for t in ActionType}
    assert policy.version.startswith(policy.file_version + "+")
    text = DEFAULT_POLICY_FILE.read_text()
    edited = parse_policy(text.replace("expires_after_hours = 72", "expires_after_hours = 48", 1))
    assert edited.file_version == policy.file_version and edited.version != policy.version
    assert policy.section("no_such_section") == {}


def test_thresholds_decide_how_many_approvers() -> None:
    refund = load_policy(DEFAULT_POLICY_FILE).for_action("refund")
    assert refund.required_approvals(50_000, "usd") == 1
    assert refund.required_approvals(50_001, "usd") == 2
    assert refund.required_approvals(70_000, "jpy") == 1  # zero-decimal currency, own threshold
    assert refund.required_approvals(80_000, "jpy") == 2
    policy = load_policy(DEFAULT_POLICY_FILE)
    assert policy.for_action("send_message").required_approvals(10_000_000, "usd") == 1
    assert policy.for_action("add_note").required_approvals(None, None) == 0


def test_bad_policy_files_are_explained() -> None:
    with pytest.raises(ConfigError, match="version"):
        parse_policy("[defaults]\n")
    with pytest.raises(ConfigError, match="roles"):
        parse_policy('version = "1"\n[defaults]\nroles = ["boss"]\n')
    with pytest.raises(ConfigError, match="unknown action types"):
        parse_policy('version = "1"\n[actions.teleport]\n')
    with pytest.raises(ConfigError, match="cents"):
        parse_policy('version = "1"\n[actions.refund]\ntwo_approvers_above = 1.5\n')


def test_other_owners_sections_are_kept() -> None:
    policy = parse_policy('version = "1"\n[recovery]\nmax_attempts = 4\n')
    assert policy.section("recovery") == {"max_attempts": 4}


def test_roles_are_ordered_and_the_system_never_approves() -> None:
    viewer, admin = Actor(1, "v", "viewer"), Actor(2, "a", "admin")
    assert has_role(admin, "approver") and not has_role(viewer, "operator")
    assert not has_role(SYSTEM_ACTOR, "approver", "admin")
    with pytest.raises(PermissionDenied, match="viewer"):
        require_role(viewer, "approver", "admin")
