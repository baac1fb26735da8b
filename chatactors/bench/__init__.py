"""`chatactors bench`: a load generator for any server that speaks the reference chat API.

Layout:
- pure bookkeeping: `tokens` (message identity), `stats` (percentiles), `ledger` (expected vs
  received deliveries), `results` (the JSON document), `report` (the table), `plot` (PNG);
- I/O: `httpclient` (a small keep-alive HTTP/1.1 client), `sockets` (WebSocket subscribers),
  `procstat` (server CPU and RSS from /proc), `progress`;
- workloads: `fanout` (also `socket-send`), `httpload`, `idle`; `workers` runs a workload in
  several processes; `cli` parses the command line.

The bench only ever talks to the URL it is given.
"""
