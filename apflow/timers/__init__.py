"""Timers: the scheduler that fires pending timers when they fall due."""
