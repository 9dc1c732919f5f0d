"""Workflows compiled to a checked networkx DAG, Jinja2 templates, and graph rendering."""
