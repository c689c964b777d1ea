"""The command line, on top of every other layer: python -m dqn_ref.run COMMAND. It parses flags
and prints for the user; what a command does lives in the layers below (ARCHITECTURE.md)."""
