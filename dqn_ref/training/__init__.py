"""One run around the DQN loop: build or resume it, evaluate when due, checkpoints, metrics,
progress, plots, TensorBoard, the run folder's lock and atomic writes, stops (ARCHITECTURE.md)."""
