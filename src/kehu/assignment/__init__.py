"""Lead assignment rules (region, industry, source… to a team and a member) and book transfers."""
