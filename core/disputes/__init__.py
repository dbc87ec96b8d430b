"""Disputes: cases, deadlines, priority, assessment, reminders, actions, analytics and evidence."""
