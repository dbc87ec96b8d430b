"""Failed-payment recovery: classification, rules, cases, context, drafts, pre-dunning and analytics."""
