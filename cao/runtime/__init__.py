"""Orchestration: delegation between agents and the workflow DAG executor."""
