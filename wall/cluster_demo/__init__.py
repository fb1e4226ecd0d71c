"""`iocwall cluster-demo`: a whole cluster on one machine, each service a child process.

One module per service it starts (postgres, redis, haproxy, certs for TLS and the media
nodes), the child-process supervisor (processes), the config files (configs), the two
entry points it runs as children (child) and the command itself (command).
"""
