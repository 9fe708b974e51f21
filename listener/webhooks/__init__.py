"""Signed webhooks (Standard Webhooks): subscriptions that read the event log in order.

`service` manages subscriptions and their secrets, `signing` makes the headers, `delivery`
sends events through the guarded HTTP client with retries, `tasks` is the job, `endpoints` the
API. It imports only the kernel.
"""
