"""The scheduler: the jobs it runs, their runs, and the admins' jobs page."""
