"""Paying invoices: the order, the quota, the safeguards and approvals,
idempotency, the events feed, SEPA files and the bank's reports.
"""
