"""Briefs for the person who decides: a few sentences on a recovery case, a dispute or a request.

facts.py    one function per subject kind → plain JSON facts, and their inputs hash
compose.py  the template brief from those facts (always available, no model)
model.py    the model's brief from the same facts, passed as quoted data
guard.py    the allow-list: a model's brief may only state what the facts state
store.py    brief_for(): stored per inputs hash, model calls asked of and booked against
            the day's budget, the template whenever the model cannot or may not be used
"""

from core.reports.briefs.store import ShownBrief, brief_for, brief_in_steps, template_brief

__all__ = ["ShownBrief", "brief_for", "brief_in_steps", "template_brief"]
