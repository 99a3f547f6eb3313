"""The no-code rules engine: triggers, conditions in the segment language, actions, dry runs and run logs."""
