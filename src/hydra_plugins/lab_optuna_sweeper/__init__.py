"""lab's Optuna sweeper for Hydra: `defaults: [override /hydra/sweeper: lab_optuna]`."""
