"""scripts/bench's parts: the script is the command, this package is what it runs.

It lives in test/bench/ and not in scripts/ because everything else the
benchmark is made of is here already (cg-pktgen, tcp_compare.py, which this
package imports as a sibling), while scripts/ holds only commands a person
runs. One concern a module:

  topology    where things run: CPUs, memif sockets, MACs, addresses, file prefixes
  procs       starting and stopping what we start, by PID; shell helpers
  prepare     before a run: packages, build, hugepages, run directories
  duts        the devices under test: gatewayd, dpdk-testpmd
  pktgen      cg-pktgen against a DUT, or alone on a loopback
  conn_file   connection table files (save/load connections) for the bulk insert bench
  perf        profiles of the DUT's worker and what they say
  scenarios   what is measured, in which order (HAProxy and kernel forwarding: tcp_compare)
  figures     small numeric helpers shared by scenarios and report
  machine     what the report says of the machine and its load
  plots       the PNG plots (gnuplot)
  analysis    the report's "why" section, from the run's numbers and profiles
  report      REPORT.md: the run, its method and the targets
  sections    REPORT.md: one table a scenario
  main        the command line
"""
