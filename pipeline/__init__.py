"""Python code of the demo data pipeline (see docs/pipeline.md)."""
