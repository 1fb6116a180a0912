"""`fence NS/NAME --cluster C --reason TEXT` and `unfence NS/NAME --cluster C`: the fence written to the group's
config in DynamoDB and published to the operators; asked first (`--yes` skips the question, and without a terminal
it is required); shown by `status`, `show-config`, `problems`; a move to a fenced cluster refused by `preflight`
and `switchover`, forced or not, and a move away from a fenced owner allowed. Against the local DynamoDB (moto
over HTTP), no operator running: what is checked is what was written and said."""

from __future__ import annotations

import getpass
from typing import Any

from failover_operator.store import DynamoDBService, keys

from .conftest import OPERATOR, cli
from .test_confirm import answered

BY = f"{getpass.getuser()} via fleet-cli"


async def test_a_standby_is_fenced_shown_everywhere_refused_as_a_target_and_released(
    fleet: Any, env: dict[str, str]
) -> None:
    east: DynamoDBService = fleet["east"]

    async def fences() -> dict[str, Any]:
        config = await east.state.get_group_config("shop", "web")
        assert config is not None
        return config.fences

    # Refused before anything is written: no terminal and no --yes; a blank reason; a cluster the group lacks.
    scripted = cli(env, "fence", "shop/web", "--cluster", "west", "--reason", "disk replaced")
    assert scripted.code == 2 and scripted.err.count("\n") == 1, scripted
    assert "fence asks for confirmation and stdin is not a terminal: pass --yes" in scripted.err
    blank = cli(env, "fence", "shop/web", "--cluster", "west", "--reason", "  ", "--yes")
    assert blank.code == 2 and "may not be blank" in blank.err, blank
    typo = cli(env, "fence", "shop/web", "--cluster", "wset", "--reason", "disk replaced", "--yes")
    assert typo.code == 1 and typo.err.count("\n") == 1, typo
    assert "cannot fence wset: wset is not a cluster of shop/web: it knows east, west; did you mean west?" in typo.err
    assert await fences() == {}

    # Each group has its own fences (and the CLI's change list exists from now on: the reader knows it).
    assert cli(env, "fence", "shop/api", "--cluster", "west", "--reason", "api only", "--yes").code == 0
    reader = fleet["west"]
    reader.liveness.changed(await reader.liveness.read())  # what it has seen so far
    done = cli(env, "fence", "shop/web", "--cluster", "west", "--reason", "disk replaced", "--yes", "-o", "json")
    assert done.code == 0, done
    fenced_at = done.json["fencedAt"]
    assert done.json == {
        "namespace": "shop",
        "name": "web",
        "cluster": "west",
        "fenced": True,
        "changed": True,
        "reason": "disk replaced",
        "fencedAt": fenced_at,
        "fencedBy": BY,
        "owner": "east",
        "epoch": 1,
    }
    (fence,) = (await fences()).values()
    assert (fence.reason, fence.fenced_by, fence.fenced_at.isoformat().replace("+00:00", "Z")) == (
        "disk replaced",
        BY,
        fenced_at,
    )
    # The operators hear of it with their next read of the fleet's liveness
    assert reader.liveness.changed(await reader.liveness.read()) == {keys.group_pk(OPERATOR, "shop", "web")}

    status = cli(env, "status", "shop/web", "-o", "json")
    (group,) = status.json["groups"]
    assert group["fences"] == {"west": {"reason": "disk replaced", "fencedAt": fenced_at, "fencedBy": BY}}
    west = {c["name"]: c for c in group["clusters"]}["west"]
    assert west["fencedByHand"] is True and west["readyToTakeOver"]["reason"] == "FencedByHand"
    table = cli(env, "status", "shop/web")
    (row,) = [line for line in table.out.splitlines() if line.lstrip().startswith("west")]
    assert "STANDBY (fenced by hand)" in row and row.rstrip().endswith("no: FencedByHand"), table.out

    shown = cli(env, "show-config", "shop/web", "-o", "json")
    assert shown.json["fences"] == group["fences"]
    rows = cli(env, "show-config", "shop/web").out
    assert f"fenced by hand              west (disk replaced; by {BY} at {fenced_at})" in rows, rows

    for force in ([], ["--force"]):
        dry = cli(env, "preflight", "shop/web", "--to", "west", *force, "-o", "json")
        assert dry.code == 1 and dry.json["verdict"].startswith("would be refused: west is fenced by hand"), dry
        move = cli(env, "switchover", "shop/web", "--to", "west", *force, "--reason", "drill", "--yes")
        assert move.code == 1 and move.err.count("\n") == 1, move
        assert "west is fenced by hand for shop/web (disk replaced (by" in move.err
        assert "nothing moves to it, forced or not, until `failover-operator unfence shop/web --cluster west`" in (
            move.err
        )
    config = await east.state.get_group_config("shop", "web")
    assert config is not None and config.transition is None

    problems = cli(env, "problems", "-o", "json")
    assert problems.code == 1, problems  # nobody could take shop/web over now: an error
    found = {(p["name"], p["kind"]): p for p in problems.json["problems"]}
    assert found[("web", "FENCED_BY_HAND")]["severity"] == "warning"
    assert found[("web", "FENCED_BY_HAND")]["cluster"] == "west"
    assert ("web", "NO_HEALTHY_STANDBY") in found and "api only" in found[("api", "FENCED_BY_HAND")]["message"]

    # Fenced again: the first fence and its reason are kept.
    again = cli(env, "fence", "shop/web", "--cluster", "west", "--reason", "another", "--yes")
    assert again.code == 0, again
    assert again.out.startswith("west is already fenced by hand for shop/web (disk replaced (by"), again.out
    assert "its fence and reason are kept" in again.out
    assert (await fences())["west"].reason == "disk replaced"

    # Released: asked first, as fence is; then the fence is gone.
    asked = cli(env, "unfence", "shop/web", "--cluster", "west")
    assert asked.code == 2 and "pass --yes" in asked.err, asked
    lifted = cli(env, "unfence", "shop/web", "--cluster", "west", "--yes", "-o", "json")
    assert lifted.code == 0, lifted
    assert lifted.json == {
        "namespace": "shop",
        "name": "web",
        "cluster": "west",
        "fenced": False,
        "changed": True,
        "was": {"reason": "disk replaced", "fencedAt": fenced_at, "fencedBy": BY},
        "owner": "east",
        "epoch": 1,
    }
    assert await fences() == {}
    twice = cli(env, "unfence", "shop/web", "--cluster", "west", "--yes")
    assert twice.code == 0 and twice.out.strip() == "west is not fenced by hand for shop/web; nothing was changed"
    wrong = cli(env, "unfence", "shop/web", "--cluster", "wets", "--yes")
    assert wrong.code == 1 and "cannot unfence wets: wets is not a cluster of shop/web" in wrong.err, wrong
    dry = cli(env, "preflight", "shop/web", "--to", "west", "-o", "json")  # (the test's heartbeats may be old now)
    assert {c["name"]: c["ok"] for c in dry.json["checks"]}["target-not-fenced"] is True
    assert "fenced by hand" not in dry.json["verdict"], dry.json["verdict"]


async def test_fencing_the_owner_asks_says_the_group_stops_and_a_move_away_is_still_allowed(
    fleet: Any, env: dict[str, str]
) -> None:
    east: DynamoDBService = fleet["east"]
    declined = answered(env, "n", "fence", "shop/web", "--cluster", "east", "--reason", "stop the group")
    assert declined.code == 1, declined
    assert declined.err.startswith(
        "Fence east's copy of shop/web? east owns it (epoch 1): the group stops being served, and nobody takes it "
        "over until it is unfenced. [y/N] "
    ), declined.err
    assert "not confirmed; nothing was changed" in declined.err
    config = await east.state.get_group_config("shop", "web")
    assert config is not None and config.fences == {}

    agreed = answered(env, "y", "fence", "shop/web", "--cluster", "east", "--reason", "stop the group")
    assert agreed.code == 0, agreed
    assert agreed.out.strip() == (
        "fenced east's copy of shop/web (stop the group): east owns it (epoch 1); its operator scales it down and "
        "keeps it down, and nobody serves the group or takes it over until "
        "`failover-operator unfence shop/web --cluster east`"
    )

    dry = cli(env, "preflight", "shop/web", "--to", "west", "-o", "json")
    assert dry.json["refusal"] is None, dry
    owner = {c["name"]: c for c in dry.json["checks"]}["owner-fence"]
    assert owner["ok"] and "its copy is already down: a move away from it is allowed" in owner["message"]
    assert "east is fenced by hand: its copy is already down, and it reports so (drained)" in dry.json["steps"]
    moved = cli(env, "switchover", "shop/web", "--to", "west", "--reason", "move it while east is down", "--yes")
    assert moved.code == 0, moved
    config = await east.state.get_group_config("shop", "web")
    assert config is not None and config.transition is not None and config.transition.target_cluster == "west"

    released = answered(env, "y", "unfence", "shop/web", "--cluster", "east")
    assert released.code == 0, released
    assert released.err.startswith("Unfence east's copy of shop/web (fenced: stop the group (by "), released.err
    assert "east owns it (epoch 1): it proves it still owns the group and serves again. [y/N] " in released.err
    assert released.out.startswith("unfenced east's copy of shop/web (fenced: stop the group (by "), released.out
