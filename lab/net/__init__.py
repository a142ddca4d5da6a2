"""Building networks: declarative topologies (topology, topologies) turned into namespaces, veths,
bridges, addresses and routes (build, netns, netns_loop), with unique names (naming) and a
cleanup of exactly what a run made (cleanup)."""
