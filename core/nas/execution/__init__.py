"""Where a search's independent trainings run: in this process or as Ray tasks (executor), and
the Ray address a job joins, checked at submit and probed before joining (ray_address)."""
