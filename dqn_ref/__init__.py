"""dqn_ref: a reference DQN whose every equation lives in spec/ with an ID that code and tests cite."""

__version__ = "0.1.0"
