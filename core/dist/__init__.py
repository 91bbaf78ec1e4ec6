"""Scale-out: data-parallel detector training over torchrun (ddp, launch, train_entry) and
independent trainings of a search fanned out through an executor (local or Ray)."""
