"""What every HTTP surface of the platform shares: problem+json errors, request ids, health, auth."""
