"""Scheduled flows: cron fire times, gate scripts, catch-up and the flow scheduler."""
