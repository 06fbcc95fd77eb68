"""Issue 13's attacks, each reproduced through the real server (or the real replay and
worker code) and shown to be refused. web/README.md's threat table names the test for
each."""
