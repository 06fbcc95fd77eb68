"""Building blocks of the synthetic log simulator (see `training.simulator`)."""
