"""Import every board module so each registers its board (kept in the order of the menu)."""
