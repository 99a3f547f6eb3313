"""Every write of the service desk, by sub-domain: calendars, SLA, surveys, complaints, tickets."""
