"""The Xetra pipeline: sample data generator, storage, reference computation and PostgreSQL load."""
