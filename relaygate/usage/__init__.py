"""Usage records over time: how long they are kept."""
