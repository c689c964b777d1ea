"""Counts as they read (dqn_ref/training/wording.py)."""

from dqn_ref.training.wording import count, plural


def test_one_is_singular_and_every_other_count_plural() -> None:
    assert count(1, "episode") == "1 episode"
    assert [count(n, "episode") for n in (0, 2, 30)] == ["0 episodes", "2 episodes", "30 episodes"]
    assert count(1, "agent step") == "1 agent step" and plural(2, "copy") == "copies"
