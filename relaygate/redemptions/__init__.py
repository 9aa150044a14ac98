"""Redemption codes: an admin creates them, a user redeems one to top up (or to register, by invitation)."""
