"""In-app notifications, email and SMS delivery: the channels every app sends through
(rules, SLA escalations, surveys, consent links)."""
