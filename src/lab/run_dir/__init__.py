"""What a run leaves behind and how it is read back.

records.py       record.json: command, status, metrics, code, packages, data fingerprints
environment.py   code version, packages and hardware for the record
resume.py        continuing an interrupted run exactly (`resume=<dir>|auto`)
code_version.py  which lab code recorded a run, and the one line every tool says about it
config_upgrade.py  an older run's config read with today's names and lab's added keys
runs.py          opening a finished run directory (config, record, model, checkpoints)
finalize.py      the post-run writers: export, test report, record, card, plots, summary
model_card.py    the README.md beside the exported model
card_usage.py    the card's "How to use" section from the head's `task.card_usage`, and the
                 toolkit the heads' code shares (the run's cut as tokenizer arguments)
card_base.py     what the cards say about the base model (a Hub id or a local folder)
plots.py         training curves and each head's report figures
summary.py       the final metrics table and the run directory line
"""
