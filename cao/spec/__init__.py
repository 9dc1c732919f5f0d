"""Frontmatter-Markdown documents (profiles, workflows, flows) loaded into pydantic models."""
