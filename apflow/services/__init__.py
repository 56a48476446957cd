"""Use cases: what people and the scheduler do, each in one transaction."""
