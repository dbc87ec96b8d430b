"""Governance: action requests, approvals, the executor and its executors, the policy, the audit trail and users."""
