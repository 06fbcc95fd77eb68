"""Where outside records enter: follow-up spreadsheets translated into contract events.

Beside `streams` (the log and its fold), this is the project's other entrance: it writes
nothing but contract events, so everything downstream treats an imported sheet exactly
like events from any other tool.
"""
