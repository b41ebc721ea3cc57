"""A recording stand-in for SQL Server under the real mssql-django backend; see server.py."""
