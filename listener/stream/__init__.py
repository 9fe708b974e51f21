"""The live stream: the event log as Server-Sent Events, resumable and filterable by type."""
