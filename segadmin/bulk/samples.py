"""A sample file per call type, offered on the bulk page: the columns the mapping proposes
by name (User ID, Event Name, Timestamp, Group ID, then traits or properties), and a few rows
that pass the dry run as they are. Written with the one CSV writer (segadmin.lib.spreadsheet)."""

from __future__ import annotations

from segadmin.lib.spreadsheet import csv_lines

SAMPLES: dict[str, tuple[list[str], list[list[str]]]] = {
    "identify": (
        ["userId", "email", "name", "plan", "createdAt"],
        [
            ["user-1001", "ada@example.com", "Ada Lovelace", "pro", "2024-05-01T09:30:00Z"],
            ["user-1002", "grace@example.com", "Grace Hopper", "free", "2024-05-02T14:00:00Z"],
            ["user-1003", "alan@example.com", "Alan Turing", "team", "2024-05-03T08:15:00Z"],
        ],
    ),
    "track": (
        ["userId", "event", "timestamp", "order_id", "revenue", "currency"],
        [
            ["user-1001", "Order Completed", "2024-05-01T09:30:00Z", "ord-5001", "49.90", "EUR"],
            ["user-1002", "Order Completed", "2024-05-02T14:00:00Z", "ord-5002", "120", "USD"],
            ["user-1003", "Order Completed", "2024-05-03T08:15:00Z", "ord-5003", "15.50", "GBP"],
        ],
    ),
    "group": (
        ["userId", "groupId", "name", "industry", "employees"],
        [
            ["user-1001", "company-42", "Example Inc.", "Technology", "420"],
            ["user-1002", "company-43", "Sample Ltd", "Retail", "35"],
            ["user-1003", "company-44", "Demo GmbH", "Manufacturing", "1200"],
        ],
    ),
}


def file_name(call_type: str) -> str:
    return f"segadmin-sample-{call_type}.csv"


def sample_csv(call_type: str) -> str:
    """The sample for ``call_type`` as CSV text (KeyError for a call bulk does not take)."""
    header, rows = SAMPLES[call_type]
    return "".join(csv_lines([header, *rows]))
