"""The desk assistant: questions in plain English answered from the desk's own data.

The model may only call the tools defined here (`tools.TOOLS`): read-only queries with typed,
validated parameters and row limits, and one tool that proposes an action as an ordinary request
that waits for approval. Outside text (customer names, ticket subjects, dispute texts, CSV
values) reaches the model only as string values inside the JSON of a tool result, never in its
instructions. `conversation.ask` runs one question: the fixed system prompt, a bounded number of
rounds, the daily budget checked before and booked after every call, every session and tool call
in the audit log.
"""
