"""Churn risk with its factors, purchase signals, product recommendations and next best actions."""
