"""Adapters: the only code that talks to Stripe, the LLM, mail and chat; plus the AI draft guard."""
