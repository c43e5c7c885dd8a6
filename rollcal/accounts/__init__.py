"""People and how they sign in: users, roles, API tokens, sessions and security headers."""
