"""Training machinery shared by search, training and studies: run directories, atomic
checkpoints, RNG state capture, metric logs and the device choice."""
