"""Lightning plumbing and model building: everything between a config and the trained model.

models.py         HF heads from pretrained weights or from a config
adapters.py       PEFT (LoRA, IA3, QLoRA): apply, count parameters, export
optim.py          optimizer and scheduler factories
trainer.py        the Lightning Trainer with lab's switches (compile, allocator)
fit.py            the fit step: Trainer, `trainer.fit`, the best checkpoint validated and tested
checkpointing.py  atomic checkpoint writes, exact-resume state, preemption saves
progress.py       the rich progress bar (reads metrics only when it redraws; terminals only)
progress_lines.py a plain line after each validation; which limit ends the fit
loggers.py        CSV and W&B loggers (W&B offline when unreachable)
console.py        a quiet console: library chatter to train.log only
file_log.py       train.log without terminal codes
distributed.py    DDP under Hydra: extra ranks run their own job
rank_weights.py   DDP ranks weighed by their rows on a batch they share unevenly
rank_failures.py  a DDP rank that fails alone, said once by rank 0 in its own words
rank_threads.py   the threads DDP ranks train with (record.json), CPU ranks over cores
rank_cores.py     the CPU-ranks-over-cores line, from a trainer or a config (lab.validate)
allocator.py      glibc keeps freed CPU memory for the next step
"""
