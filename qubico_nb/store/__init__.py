"""What must outlive a kernel: finished tasks (SQLite) and review verdicts (JSON lines).

This package owns those files, their locking and their corruption handling; nothing else opens them.
"""
