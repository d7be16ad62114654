"""Several nodes (docs/nodes.md): the node registry, room placement by load, the signed relay of
signalling to the node that holds a room's media, and fetching recordings from the node that wrote
them."""
