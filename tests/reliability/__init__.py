"""Nothing lost, nothing counted twice: the fault, load and bad-input suite (issue 7).

Every scenario feeds a simulated log (plus its faults) to the embedded replay or to the
Faust worker on the real local Kafka broker, compares every customer's and rep's final
state with the embedded replay of the same events, and adds one row to the table
(`tests/reliability/table.py`): events sent, applied, lost, duplicated, rejected with
reason, recovery time.

Two sizes (`tests/reliability/profile.py`): the short form runs in every `pytest` (CI);
`CLOSECAST_RELIABILITY=full` (`make reliability`, or `python -m tests.reliability`) runs
the sizes the issue asks for. Worker scenarios are also marked `live`.
"""
