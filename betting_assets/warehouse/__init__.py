"""The warehouse: SQLAlchemy Core tables, engine factory, bulk writes and as-of reads."""
