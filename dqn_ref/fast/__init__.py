"""Speed-ups beside the reference, never inside it.

Each one runs DQN as dqn_ref's algorithm layer specifies it, only faster, and composes that
layer's parts rather than copying them: the overlapped loop wraps `dqn_loop`, the compiled and
the graphed updates call `dqn_update` with its own loss function, and the device replay is a
FrameReplayBuffer that also draws on the device. Each is proven equal to the reference by a test
in tests/fast/, bit for bit on the CPU or within the tolerance its spec section states. This layer
imports the algorithm; the algorithm never imports it.
"""
