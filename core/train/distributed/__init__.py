"""Data-parallel training over torchrun: the process group and the trainer's hooks (ddp),
synchronised BatchNorm (syncbn), the worker's torchrun launch (launch) and the ranks' reporters
(reporting). One rank's entry point is core.train.rank_entry."""
