-- The warehouse database is created by POSTGRES_DB; Dagster and MLflow get their own.
CREATE DATABASE dagster OWNER betting;
CREATE DATABASE mlflow OWNER betting;
