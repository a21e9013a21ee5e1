"""Clearing (清分 / 清算) as pure functions: cycles and periods, fund lines, netting,
reconciliation comparison, prepayment quotas and warnings, advance days, ledger legs and
statements. No I/O; the batch layer (``medroam.batch``) does the set computations."""
