"""Notifications in rollcal and by e-mail: the bell, preferences, digests and the outbox."""
