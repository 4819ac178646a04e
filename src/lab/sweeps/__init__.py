"""Optuna hyperparameter sweeps for lab (the `lab_optuna` Hydra sweeper).

    python -m lab.train -m sweep=imdb_lr                  # run, or continue, a study
    python -m lab.train -m sweep=imdb_lr model=bert        # plain overrides apply to all trials

The Hydra plugin (`hydra_plugins.lab_optuna_sweeper`) only adapts Hydra's sweeper interface;
the work is here, one job per module:

* `search_space`: Hydra's sweep grammar (`choice`, `range`, `interval`, `tag(log, ...)`) to
  Optuna distributions, and sampled values back to command-line overrides.
* `space_checks`: the space's values held to their keys' valid ranges (`lab.config.ranges`),
  and `enqueue_trials` to the space, before the study exists.
* `storage`: the study's storage URL (SQLite in the sweep directory by default) and a lock
  that makes "count the trials, then start one" atomic across processes and machines.
* `liveness`: heartbeats of running trials, so a trial whose process died is found and
  re-run under its own number (and resumed from its last checkpoint).
* `worker`: the loop one sweep process runs: claim or ask a trial, launch it, tell Optuna.
* `study_setup`: the fixed overrides and search space a study was started with, recorded in
  it; a later run with others is refused (`paths.*` overrides are no part of them).
* `probes`: the trial configs composed before a study exists (each value of a choice over a
  config group once), so a bad option is refused first.
* `orphans`: a RUNNING trial whose sweep process died but whose job (submitit) may live on:
  left to finish while it trains, its result taken once it finished.
* `objectives`, `grid_budget`, `sweeper_settings`, `launchers`: checks before anything of a
  sweep exists (one direction per metric, a grid's size, sampler/pruner settings, SLURM).
* `pruning`: the Lightning callback through which a running trial reports to its study.
* `results`: `trials.csv`, `best.json` and plots in the sweep directory; `wandb_summary`:
  the study as one W&B summary run.
"""
