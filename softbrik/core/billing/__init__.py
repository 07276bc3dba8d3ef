"""Billing: charges, invoices, payments, reminders, calendar billing, closure (R-BILL, R-CLOSE)."""
