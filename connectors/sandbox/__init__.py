"""Local stand-ins for the CRMs and scheduling systems nurturehub talks to.

They speak the vendors' wire formats closely enough that the real client libraries cannot tell the
difference, keep their state in SQLite (a file for the demo, memory for tests) and can inject faults.
They exist for tests and the demo only; production configuration points the connectors at the
vendors' real endpoints.
"""
