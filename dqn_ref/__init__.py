"""dqn_ref: a reference DQN; every equation lives in spec/ under an ID that code and tests cite."""

__version__ = "0.1.0"
