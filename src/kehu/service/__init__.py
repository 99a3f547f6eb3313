"""Service desk: SLA policies and business calendars, ticket clocks, satisfaction surveys and complaints."""
